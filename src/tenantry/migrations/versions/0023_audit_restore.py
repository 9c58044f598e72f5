"""Restoring a tenant's audit trail as it was: an imported archive keeps each entry's seq, time
and hashes.

The chain trigger of 0008 overwrites `seq`, `prev_hash`, `hash` and `created_at` of every row
it appends, so an imported trail would be re-chained with the import's time on every entry.
With `tenantry.audit_restore = 'on'` in a platform context (never a tenant's: the runtime role
cannot sign one), the trigger keeps each row's `seq` and `created_at` and first checks the
archived chain: the row's `seq` follows the head, its `prev_hash` is the archived hash of the
row before (`tenantry.audit_restore_prev`, kept by the trigger), and its `hash` is the SHA-256
of the row as archived, its app named by the exporting installation's id
(`tenantry.audit_restore_apps`: this installation's app ids to the archive's). It then stores
the row chained to this database's head: the same hashes as archived, unless an app's id
changed between installations. A trail whose oldest rows were pruned before export starts
where its first row says; that point is recorded as the tenant's checkpoint, where
verification starts. A row that does not chain fails the import (SQLSTATE 22000).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-26
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

APPEND = """
CREATE OR REPLACE FUNCTION tenantry_private.audit_log_append() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_seq bigint;
    v_prev bytea;
    v_latest_seq bigint;
    v_latest bytea;
    v_archived tenantry.audit_log;
    v_expected bytea;
BEGIN
    SELECT h.seq, h.hash INTO v_seq, v_prev FROM tenantry_private.audit_chain_heads h
     WHERE h.tenant_id = NEW.tenant_id FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO tenantry_private.audit_chain_heads (tenant_id, seq, hash)
        VALUES (NEW.tenant_id, 0, decode(repeat('00', 32), 'hex'))
        ON CONFLICT (tenant_id) DO NOTHING;
        SELECT h.seq, h.hash INTO v_seq, v_prev FROM tenantry_private.audit_chain_heads h
         WHERE h.tenant_id = NEW.tenant_id FOR UPDATE;
    END IF;
    SELECT a.seq, a.hash INTO v_latest_seq, v_latest FROM tenantry.audit_log a
     WHERE a.tenant_id = NEW.tenant_id AND a.seq > v_seq ORDER BY a.seq DESC LIMIT 1;
    IF FOUND THEN
        v_seq := v_latest_seq;
        v_prev := v_latest;
    END IF;
    IF current_setting('tenantry.audit_restore', true) = 'on'
       AND coalesce((SELECT s.platform FROM tenantry.current_scope s), false) THEN
        -- The row as it was archived: its app under the exporting installation's id.
        v_archived := NEW;
        v_archived.target_app_id := coalesce(
            (nullif(current_setting('tenantry.audit_restore_apps', true), '')::jsonb
              ->> NEW.target_app_id::text)::uuid,
            NEW.target_app_id);
        v_expected := decode(nullif(current_setting('tenantry.audit_restore_prev', true), ''),
                             'hex');
        IF v_expected IS NULL THEN  -- the archived trail's first row
            IF v_seq <> 0 OR EXISTS (SELECT 1 FROM tenantry_private.audit_checkpoints k
                                      WHERE k.tenant_id = NEW.tenant_id) THEN
                RAISE EXCEPTION 'the tenant already has an audit trail'
                    USING ERRCODE = 'data_exception';
            END IF;
            IF NEW.seq > 1 THEN  -- older rows were pruned before export: start there
                INSERT INTO tenantry_private.audit_checkpoints (tenant_id, seq, hash)
                VALUES (NEW.tenant_id, NEW.seq - 1, NEW.prev_hash);
                v_seq := NEW.seq - 1;
                v_prev := NEW.prev_hash;
            END IF;
            v_expected := CASE WHEN NEW.seq > 1 THEN NEW.prev_hash ELSE v_prev END;
        END IF;
        IF NEW.seq IS DISTINCT FROM v_seq + 1 OR NEW.prev_hash IS DISTINCT FROM v_expected
           OR NEW.hash IS DISTINCT FROM
              sha256(NEW.prev_hash || tenantry_private.audit_row_bytes(v_archived))
        THEN
            RAISE EXCEPTION 'audit entry % does not continue the tenant''s chain', NEW.seq
                USING ERRCODE = 'data_exception';
        END IF;
        PERFORM set_config('tenantry.audit_restore_prev', encode(NEW.hash, 'hex'), true);
        -- Stored chained to this database's head, over the row as stored (the same hashes
        -- as archived unless the app's id changed between installations).
        NEW.prev_hash := v_prev;
        NEW.hash := sha256(v_prev || tenantry_private.audit_row_bytes(NEW));
        RETURN NEW;
    END IF;
    NEW.seq := v_seq + 1;
    NEW.created_at := now();
    NEW.prev_hash := v_prev;
    NEW.hash := sha256(v_prev || tenantry_private.audit_row_bytes(NEW));
    RETURN NEW;
END
$fn$
"""


def upgrade() -> None:
    op.execute(APPEND)


def downgrade() -> None:
    chained = importlib.import_module("tenantry.migrations.versions.0008_audit_log")
    op.execute(chained.APPEND.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
