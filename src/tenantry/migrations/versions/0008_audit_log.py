"""The tenant audit log: append-only for every role and hash-chained per tenant.

`tenantry.audit_log` is a tenant table (row-level security as every other): the runtime role may
read its tenant's rows and append, the platform role may read and append; nobody may UPDATE,
DELETE or TRUNCATE it, the owner included (`tenantry_private.audit_log_guard`).

The chain is computed by the database. A BEFORE INSERT trigger, running with the owner's rights,
locks the tenant's head in `tenantry_private.audit_chain_heads` (`SELECT … FOR UPDATE`, held until
the transaction ends: writers of one tenant queue, writers of different tenants never meet),
chains to the newest of that head and the rows its own statement appended before, and overwrites
whatever the caller sent for `seq`, `prev_hash`, `hash` and `created_at`; an AFTER INSERT
statement trigger moves the head once per statement:

    seq       = previous.seq + 1
    prev_hash = previous.hash        (32 zero bytes before the first row)
    hash      = sha256(prev_hash || canonical row bytes)

The canonical row bytes (version 1, mirrored by `tenantry.audit_log.models.canonical_bytes`) are
the UTF-8 encoding of `tenantry.audit.v1` followed by each field below as `<byte length>:<text>`,
or `~` for NULL: tenant_id, seq, created_at as microseconds since the Unix epoch, actor,
effective_user, delegated (`t`/`f`), impersonated (`t`/`f`), action, object_type, object_id,
target_app_id, metadata (PostgreSQL's text form of the stored jsonb), request_id. Length
prefixes make the encoding unambiguous whatever the texts contain.

Retention prunes the oldest rows through `tenantry_private.prune_audit_log`, which first records
a checkpoint (`tenantry_private.audit_checkpoints`: the last pruned row's seq and hash), and only
then deletes rows at or below it; the guard lets a DELETE through only for rows a checkpoint
covers, inside that function. Verification starts from the newest checkpoint. A purge keeps the
log (`kept_after_purge`): it is the evidence of what happened to the tenant, and retention
removes it like every other tenant's.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import op

from tenantry.isolation.ddl import (
    RuntimeAccess,
    Scope,
    ScopedTable,
    scoped_table_sql,
)

if TYPE_CHECKING:
    from tenantry.isolation.roles import Roles

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

AUDIT_LOG = ScopedTable(
    name="audit_log",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.APPEND_ONLY,
    kept_after_purge=True,
    primary_key=("seq",),
    columns=(
        "seq bigint NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "actor text NOT NULL CHECK (length(actor) BETWEEN 1 AND 500)",
        # Who the action was for: differs from the actor under delegation or impersonation.
        "effective_user text CHECK (length(effective_user) <= 500)",
        "delegated boolean NOT NULL DEFAULT false",
        "impersonated boolean NOT NULL DEFAULT false",
        "action text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$')",
        "object_type text NOT NULL CHECK (object_type ~ '^[a-z][a-z0-9_]{0,62}$')",
        "object_id text CHECK (length(object_id) <= 500)",
        # The app the action concerned, if any: a plain column, not a scope (every tenant
        # administrator reads every entry of the tenant, and purging apps keeps the log).
        "target_app_id uuid REFERENCES tenantry.apps (id)",
        "metadata jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object')",
        "request_id text CHECK (length(request_id) <= 200)",
        "prev_hash bytea NOT NULL",
        "hash bytea NOT NULL",
    ),
    indexes=("created_at", "action, seq", "object_type, object_id, seq", "actor, seq"),
)

FIELD = """
CREATE FUNCTION tenantry_private.audit_field(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN v IS NULL THEN '~' ELSE octet_length(v)::text || ':' || v END
"""

CANONICAL = """
CREATE FUNCTION tenantry_private.audit_row_bytes(r tenantry.audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN convert_to('tenantry.audit.v1'
    || tenantry_private.audit_field(r.tenant_id::text)
    || tenantry_private.audit_field(r.seq::text)
    || tenantry_private.audit_field(
           (extract(epoch FROM r.created_at) * 1000000)::bigint::text)
    || tenantry_private.audit_field(r.actor)
    || tenantry_private.audit_field(r.effective_user)
    || tenantry_private.audit_field(CASE WHEN r.delegated THEN 't' ELSE 'f' END)
    || tenantry_private.audit_field(CASE WHEN r.impersonated THEN 't' ELSE 'f' END)
    || tenantry_private.audit_field(r.action)
    || tenantry_private.audit_field(r.object_type)
    || tenantry_private.audit_field(r.object_id)
    || tenantry_private.audit_field(r.target_app_id::text)
    || tenantry_private.audit_field(r.metadata::text)
    || tenantry_private.audit_field(r.request_id), 'UTF8')
"""

# Per row: lock the tenant's head (a row lock; taking it again in the same transaction writes
# nothing), then chain to the newest of the head and the rows this statement already appended
# (a BEFORE ROW trigger sees the rows of its statement processed before). The head row is
# rewritten once per statement, not once per row, so a 50,000-row INSERT … SELECT costs one
# head update, not a 50,000-version chain of them.
APPEND = """
CREATE FUNCTION tenantry_private.audit_log_append() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_seq bigint;
    v_prev bytea;
    v_latest_seq bigint;
    v_latest bytea;
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
    NEW.seq := v_seq + 1;
    NEW.created_at := now();
    NEW.prev_hash := v_prev;
    NEW.hash := sha256(v_prev || tenantry_private.audit_row_bytes(NEW));
    RETURN NEW;
END
$fn$
"""

ADVANCE = """
CREATE FUNCTION tenantry_private.audit_log_advance() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE tenantry_private.audit_chain_heads h SET seq = l.seq, hash = l.hash
      FROM (SELECT DISTINCT ON (a.tenant_id) a.tenant_id, a.seq, a.hash FROM appended a
             ORDER BY a.tenant_id, a.seq DESC) l
     WHERE h.tenant_id = l.tenant_id AND l.seq > h.seq;
    RETURN NULL;
END
$fn$
"""

GUARD = """
CREATE FUNCTION tenantry_private.audit_log_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- Only `prune_audit_log` deletes, and only rows its checkpoint already covers.
    IF TG_OP = 'DELETE' THEN
        IF current_setting('tenantry.audit_pruning', true) = OLD.tenant_id::text
           AND OLD.seq <= (SELECT max(c.seq) FROM tenantry_private.audit_checkpoints c
                            WHERE c.tenant_id = OLD.tenant_id) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$
"""

PRUNE = """
CREATE FUNCTION tenantry_private.prune_audit_log(p_tenant uuid, p_before timestamptz)
RETURNS TABLE (pruned bigint, through_seq bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_head bigint;
    v_through bigint;
    v_hash bytea;
    v_done bigint;
    v_count bigint;
BEGIN
    -- Writers of this tenant wait until the prune commits.
    SELECT h.seq INTO v_head FROM tenantry_private.audit_chain_heads h
     WHERE h.tenant_id = p_tenant FOR UPDATE;
    IF v_head IS NULL THEN
        RETURN QUERY SELECT 0::bigint, 0::bigint;
        RETURN;
    END IF;
    SELECT coalesce(max(c.seq), 0) INTO v_done FROM tenantry_private.audit_checkpoints c
     WHERE c.tenant_id = p_tenant;
    -- The oldest row to keep; everything before it goes (rows are pruned as a prefix, so the
    -- chain of what is kept stays whole).
    SELECT coalesce(min(a.seq), v_head + 1) - 1 INTO v_through FROM tenantry.audit_log a
     WHERE a.tenant_id = p_tenant AND a.seq > v_done AND a.created_at >= p_before;
    IF v_through <= v_done THEN
        RETURN QUERY SELECT 0::bigint, v_done;
        RETURN;
    END IF;
    SELECT a.hash INTO v_hash FROM tenantry.audit_log a
     WHERE a.tenant_id = p_tenant AND a.seq = v_through;
    INSERT INTO tenantry_private.audit_checkpoints (tenant_id, seq, hash)
    VALUES (p_tenant, v_through, v_hash);
    PERFORM set_config('tenantry.audit_pruning', p_tenant::text, true);
    DELETE FROM tenantry.audit_log a WHERE a.tenant_id = p_tenant AND a.seq <= v_through;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM set_config('tenantry.audit_pruning', '', true);
    UPDATE tenantry_private.audit_checkpoints SET rows_pruned = v_count
     WHERE tenant_id = p_tenant AND seq = v_through;
    RETURN QUERY SELECT v_count, v_through;
END
$fn$
"""

# What a verifier needs besides the rows: the tenant's head and newest checkpoint. The runtime
# role gets them only for its verified context's tenant (a tenant administrator's chain status),
# the platform for any tenant.
STATE = """
CREATE FUNCTION tenantry.audit_chain_state(p_tenant uuid)
RETURNS TABLE (head_seq bigint, head_hash bytea, checkpoint_seq bigint, checkpoint_hash bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant uuid;
    v_platform boolean;
BEGIN
    SELECT s.tenant_id, s.platform INTO v_tenant, v_platform FROM tenantry.current_scope s;
    IF NOT coalesce(v_platform, false) AND v_tenant IS DISTINCT FROM p_tenant THEN
        RAISE EXCEPTION 'the audit chain of another tenant'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN QUERY
    SELECT h.seq, h.hash, c.seq, c.hash
      FROM (SELECT p_tenant AS tenant_id) t
      LEFT JOIN tenantry_private.audit_chain_heads h ON h.tenant_id = t.tenant_id
      LEFT JOIN LATERAL (SELECT k.seq, k.hash FROM tenantry_private.audit_checkpoints k
                          WHERE k.tenant_id = t.tenant_id ORDER BY k.seq DESC LIMIT 1) c ON true;
END
$fn$
"""

FUNCTIONS = (
    "tenantry.audit_chain_state(uuid)",
    "tenantry_private.audit_log_advance()",
    "tenantry_private.prune_audit_log(uuid, timestamptz)",
    "tenantry_private.audit_log_guard()",
    "tenantry_private.audit_log_append()",
    "tenantry_private.audit_row_bytes(tenantry.audit_log)",
    "tenantry_private.audit_field(text)",
)


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles: Roles = config.attributes["roles"]
    statements = [
        *scoped_table_sql(AUDIT_LOG, roles),
        # Append-only for the platform too: it reads and appends, never rewrites.
        f'REVOKE UPDATE, DELETE ON tenantry.audit_log FROM "{roles.platform}"',
        """
        CREATE TABLE tenantry_private.audit_chain_heads (
            tenant_id uuid PRIMARY KEY REFERENCES tenantry.tenants (id),
            seq bigint NOT NULL,
            hash bytea NOT NULL
        )
        """,
        """
        CREATE TABLE tenantry_private.audit_checkpoints (
            tenant_id uuid NOT NULL REFERENCES tenantry.tenants (id),
            seq bigint NOT NULL,
            hash bytea NOT NULL,
            rows_pruned bigint NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, seq)
        )
        """,
        # The owner's functions read and delete only in a verified context: the chain trigger
        # reads the newest rows of the context's tenant, pruning runs in a platform context.
        # (One policy per command: the context is verified per row here, which only the
        # trigger's one-row lookups and pruning pay.)
        (
            "CREATE POLICY audit_chain ON tenantry.audit_log AS PERMISSIVE FOR ALL "
            f'TO "{roles.owner}" USING (EXISTS (SELECT FROM tenantry.current_scope s '
            "WHERE s.platform OR s.tenant_id = audit_log.tenant_id))"
        ),
        FIELD,
        CANONICAL,
        APPEND,
        ADVANCE,
        GUARD,
        PRUNE,
        STATE,
        *(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC" for fn in FUNCTIONS),
        (
            "GRANT EXECUTE ON FUNCTION tenantry.audit_chain_state(uuid) "
            f'TO "{roles.runtime}", "{roles.platform}"'
        ),
        (
            "GRANT EXECUTE ON FUNCTION tenantry_private.prune_audit_log(uuid, timestamptz) "
            f'TO "{roles.platform}"'
        ),
        """
        CREATE TRIGGER audit_log_append BEFORE INSERT ON tenantry.audit_log
        FOR EACH ROW EXECUTE FUNCTION tenantry_private.audit_log_append()
        """,
        """
        CREATE TRIGGER audit_log_advance AFTER INSERT ON tenantry.audit_log
        REFERENCING NEW TABLE AS appended
        FOR EACH STATEMENT EXECUTE FUNCTION tenantry_private.audit_log_advance()
        """,
        """
        CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON tenantry.audit_log
        FOR EACH ROW EXECUTE FUNCTION tenantry_private.audit_log_guard()
        """,
        """
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON tenantry.audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION tenantry_private.audit_log_guard()
        """,
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    for statement in (
        "DROP TABLE tenantry.audit_log CASCADE",
        *(f"DROP FUNCTION {fn}" for fn in FUNCTIONS[:5]),
        f"DROP FUNCTION {FUNCTIONS[-1]}",
        "DROP TABLE tenantry_private.audit_checkpoints",
        "DROP TABLE tenantry_private.audit_chain_heads",
        "DELETE FROM tenantry.scoped_tables WHERE table_name = 'audit_log'",
    ):
        op.execute(statement)
