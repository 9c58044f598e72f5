"""Signed licences per tenant and app, their activations, the entitlements snapshot, and seats
enforced by the database.

- `licence_keys` (global catalog): the Ed25519 licence-signing keys' public halves, readable by
  everyone we serve (verification needs nothing else). The private halves live in
  `tenantry_private.licence_signing_keys`, reachable by the platform role only, like the app
  token keys.
- `licences` (app-scoped, runtime read-only): the signed document (payload bytes, signature,
  kid) and its parsed fields, issued or revoked.
- `licence_activations` (app-scoped, runtime read-only): each issue or import, when, by whom and
  the file's sha256; never a key.
- `entitlements` (one row per tenant and app, runtime read-only): the snapshot the request path
  and the seat trigger read.
- `tenantry.enforce_seats()`: a trigger on app_users (insert, reactivation) and invitations
  (insert) that serialises on an advisory lock per (tenant, app) and counts active identities
  plus open invitations, so every path that adds a person (sign-up, invitation, guest
  admission, an administrator) is held to the seats, and two parallel invitations for the last
  seat cannot both succeed. It raises SQLSTATE TL409, which the database kit turns into
  `seat_limit_reached`.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from tenantry.isolation.ddl import (
    Reference,
    RuntimeAccess,
    Scope,
    ScopedTable,
    catalog_grants_sql,
    scoped_table_sql,
)

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

LICENCES = ScopedTable(
    name="licences",
    scope=Scope.APP,
    columns=(
        "tenant_slug text NOT NULL",
        "plan text NOT NULL CHECK (length(plan) BETWEEN 1 AND 64)",
        "seats integer CHECK (seats >= 0)",
        "features text[] NOT NULL DEFAULT '{}'",
        "limits jsonb NOT NULL DEFAULT '{}'",
        "issued_at timestamptz NOT NULL",
        "valid_from timestamptz NOT NULL",
        "valid_until timestamptz NOT NULL",
        "grace_days integer NOT NULL CHECK (grace_days BETWEEN 0 AND 365)",
        "issuer text NOT NULL CHECK (length(issuer) <= 200)",
        "kid text NOT NULL",
        # The signed bytes exactly as issued: the file is rebuilt from these three.
        "payload bytea NOT NULL",
        "signature bytea NOT NULL",
        "source text NOT NULL CHECK (source IN ('issued', 'imported'))",
        "status text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'revoked'))",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "revoked_at timestamptz",
        "revoked_by text CHECK (length(revoked_by) <= 500)",
        "revoked_reason text CHECK (length(revoked_reason) <= 500)",
    ),
    indexes=("created_at",),
    runtime_access=RuntimeAccess.READ_ONLY,
    cross_app_read=True,
    checks=(
        "valid_from < valid_until",
        "(status = 'revoked') = (revoked_at IS NOT NULL)",
        "(revoked_at IS NULL) = (revoked_by IS NULL)",
    ),
)

ACTIVATIONS = ScopedTable(
    name="licence_activations",
    scope=Scope.APP,
    columns=(
        "licence_id uuid NOT NULL",
        "source text NOT NULL CHECK (source IN ('issued', 'imported'))",
        "activated_by text NOT NULL CHECK (length(activated_by) <= 500)",
        "activated_at timestamptz NOT NULL DEFAULT now()",
        "file_sha256 bytea NOT NULL CHECK (length(file_sha256) = 32)",
    ),
    references=(Reference(("licence_id",), "licences"),),
    indexes=("activated_at",),
    runtime_access=RuntimeAccess.READ_ONLY,
    cross_app_read=True,
)

ENTITLEMENTS = ScopedTable(
    name="entitlements",
    scope=Scope.APP,
    primary_key=("app_id",),
    columns=(
        "licence_id uuid NOT NULL",
        "plan text NOT NULL",
        "seats integer CHECK (seats >= 0)",
        "features text[] NOT NULL DEFAULT '{}'",
        "limits jsonb NOT NULL DEFAULT '{}'",
        "valid_from timestamptz NOT NULL",
        "valid_until timestamptz NOT NULL",
        "grace_until timestamptz NOT NULL",
        "read_only_until timestamptz NOT NULL",
        "state text NOT NULL CHECK (state IN ('active', 'revoked'))",
        "updated_at timestamptz NOT NULL DEFAULT now()",
    ),
    references=(Reference(("licence_id",), "licences"),),
    runtime_access=RuntimeAccess.READ_ONLY,
    cross_app_read=True,
    checks=("valid_until <= grace_until", "grace_until <= read_only_until"),
)

_SEATS_FUNCTION = r"""
CREATE FUNCTION tenantry.enforce_seats() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    allowed integer;
    used integer;
BEGIN
    -- PL/pgSQL resolves every field it names, so each table's columns get their own branch.
    IF TG_TABLE_NAME = 'app_users' THEN
        IF NEW.status <> 'active' THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' THEN
            IF OLD.status = 'active' THEN
                RETURN NEW;
            END IF;
        END IF;
    END IF;
    SELECT e.seats INTO allowed FROM tenantry.entitlements e
     WHERE e.tenant_id = NEW.tenant_id AND e.app_id = NEW.app_id;
    IF allowed IS NULL THEN
        RETURN NEW;  -- no licence, or unlimited seats
    END IF;
    -- One writer at a time per (tenant, app); the counts below see what the last one committed.
    PERFORM pg_advisory_xact_lock(
        hashtextextended('tenantry.seats:' || NEW.tenant_id::text || NEW.app_id::text, 0));
    IF TG_TABLE_NAME = 'invitations' AND EXISTS (
        SELECT 1 FROM tenantry.app_users u
         WHERE u.tenant_id = NEW.tenant_id AND u.app_id = NEW.app_id
           AND u.email_normalized = NEW.email_normalized AND u.status = 'active') THEN
        RETURN NEW;  -- the person already holds a seat
    END IF;
    SELECT (SELECT count(*) FROM tenantry.app_users u
             WHERE u.tenant_id = NEW.tenant_id AND u.app_id = NEW.app_id
               AND u.status = 'active' AND u.id <> NEW.id)
         + (SELECT count(*) FROM tenantry.invitations i
             WHERE i.tenant_id = NEW.tenant_id AND i.app_id = NEW.app_id
               AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()
               -- accepting consumes the invitation's own reservation
               AND i.email_normalized <> NEW.email_normalized
               AND NOT EXISTS (
                   SELECT 1 FROM tenantry.app_users u
                    WHERE u.tenant_id = i.tenant_id AND u.app_id = i.app_id
                      AND u.email_normalized = i.email_normalized AND u.status = 'active'))
      INTO used;
    IF used + 1 > allowed THEN
        RAISE EXCEPTION 'seat limit reached: % of % seats in use', used, allowed
            USING ERRCODE = 'TL409';
    END IF;
    RETURN NEW;
END
$fn$
"""


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    statements = [
        """
        CREATE TABLE tenantry.licence_keys (
            kid text PRIMARY KEY CHECK (kid ~ '^[a-z0-9-]{4,64}$'),
            public_key bytea NOT NULL CHECK (length(public_key) = 32),
            created_at timestamptz NOT NULL DEFAULT now(),
            retired_at timestamptz
        )
        """,
        *catalog_grants_sql("tenantry.licence_keys", roles),
        """
        CREATE TABLE tenantry_private.licence_signing_keys (
            kid text PRIMARY KEY REFERENCES tenantry.licence_keys (kid),
            private_key text NOT NULL
        )
        """,
        f'GRANT SELECT, INSERT ON tenantry_private.licence_signing_keys TO "{roles.platform}"',
        *scoped_table_sql(LICENCES, roles),
        *scoped_table_sql(ACTIVATIONS, roles),
        *scoped_table_sql(ENTITLEMENTS, roles),
        _SEATS_FUNCTION,
        "REVOKE ALL ON FUNCTION tenantry.enforce_seats() FROM PUBLIC",
        (
            "CREATE TRIGGER enforce_seats BEFORE INSERT OR UPDATE OF status "
            "ON tenantry.app_users FOR EACH ROW EXECUTE FUNCTION tenantry.enforce_seats()"
        ),
        (
            "CREATE TRIGGER enforce_seats BEFORE INSERT ON tenantry.invitations "
            "FOR EACH ROW EXECUTE FUNCTION tenantry.enforce_seats()"
        ),
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER enforce_seats ON tenantry.invitations")
    op.execute("DROP TRIGGER enforce_seats ON tenantry.app_users")
    op.execute("DROP FUNCTION tenantry.enforce_seats()")
    for table in ("entitlements", "licence_activations", "licences"):
        op.execute(
            "DELETE FROM tenantry.scoped_tables "
            f"WHERE table_schema = 'tenantry' AND table_name = '{table}'"
        )
        op.execute(f"DROP TABLE tenantry.{table}")
    op.execute("DROP TABLE tenantry_private.licence_signing_keys")
    op.execute("DROP TABLE tenantry.licence_keys")
