"""Envelope-encrypted secrets and their access log.

- `secret_data_keys` (tenant-scoped, runtime append-only): each tenant's AES-256 data keys, by
  version, wrapped by a master key (`master_key_id` names which). A tenant context may read its
  own wrapped keys and add the first one; retiring a key and rewrapping under a new master key
  (`tenantry secrets rotate-master`) run on the platform path and never touch a value.
- `secrets` (app-scoped): name, current version, status; never readable by another app's
  context, and no cross-app reading (values are secrets).
- `secret_versions` (app-scoped): each value, AES-256-GCM under the tenant's data key
  (`nonce ‖ ciphertext ‖ tag`), with the data key version that sealed it. The associated data
  binds tenant, app, secret id and version, so a ciphertext moved to another row, version, app
  or tenant does not decrypt.
- `secret_access_log` (app-scoped): who read, wrote, rotated or disabled which secret and
  version, through which principal, and why. Append-only for every role, the owner included
  (`tenantry_private.secret_access_log_guard`, as the audit log's guard); the one DELETE it
  lets through is a purge of a deprovisioned tenant.
- The privileges `secrets.read` and `secrets.manage`: the owner template holds both, the
  administrator template `secrets.manage`.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from tenantry.isolation.ddl import (
    Reference,
    RuntimeAccess,
    Scope,
    ScopedTable,
    scoped_table_sql,
)

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

DATA_KEYS = ScopedTable(
    name="secret_data_keys",
    scope=Scope.TENANT,
    primary_key=("version",),
    columns=(
        "version integer NOT NULL CHECK (version >= 1)",
        "wrapped_key bytea NOT NULL CHECK (length(wrapped_key) BETWEEN 28 AND 4096)",
        "master_key_id text NOT NULL CHECK (length(master_key_id) BETWEEN 1 AND 200)",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "rewrapped_at timestamptz",
        "retired_at timestamptz",
    ),
    runtime_access=RuntimeAccess.APPEND_ONLY,
)

SECRETS = ScopedTable(
    name="secrets",
    scope=Scope.APP,
    columns=(
        "name text NOT NULL CHECK (name ~ '^[A-Za-z][A-Za-z0-9_.-]{0,127}$')",
        "current_version integer NOT NULL CHECK (current_version >= 1)",
        "status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled'))",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "rotated_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("name",),
)

VERSIONS = ScopedTable(
    name="secret_versions",
    scope=Scope.APP,
    columns=(
        "secret_id uuid NOT NULL",
        "version integer NOT NULL CHECK (version >= 1)",
        # nonce (12 bytes) ‖ ciphertext ‖ GCM tag (16 bytes)
        "ciphertext bytea NOT NULL CHECK (length(ciphertext) >= 28)",
        "data_key_version integer NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "created_by text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 500)",
        "disabled_at timestamptz",
    ),
    unique=("secret_id, version",),
    references=(
        Reference(("secret_id",), "secrets"),
        Reference(("data_key_version",), "secret_data_keys", ("version",)),
    ),
)

ACCESS_LOG = ScopedTable(
    name="secret_access_log",
    scope=Scope.APP,
    runtime_access=RuntimeAccess.APPEND_ONLY,
    columns=(
        "secret_id uuid NOT NULL",
        "secret_name text NOT NULL",
        "version integer",
        "action text NOT NULL CHECK (action IN ('read', 'write', 'rotate', 'disable'))",
        "actor text NOT NULL CHECK (length(actor) BETWEEN 1 AND 500)",
        "principal text NOT NULL CHECK (principal ~ '^[a-z_]{1,40}$')",
        "reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500)",
        "request_id text CHECK (length(request_id) <= 200)",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    references=(Reference(("secret_id",), "secrets"),),
    indexes=("created_at, id",),
)

GUARD = """
CREATE FUNCTION tenantry_private.secret_access_log_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- A purge removes a deprovisioned tenant's rows in every table; nothing else deletes.
    -- The caller's own rights read the tenant: the platform role in its context sees it (a
    -- purge), the owner under forced row-level security sees nothing (refused).
    IF TG_OP = 'DELETE' THEN
        IF (SELECT t.status FROM tenantry.tenants t WHERE t.id = OLD.tenant_id)
           = 'deprovisioned' THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'the secret access log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$
"""

PRIVILEGES = (
    ("secrets.read", "Read the values of an app's secrets (each read is logged with a reason)"),
    ("secrets.manage", "Set, rotate and disable an app's secrets"),
)
TEMPLATES = (("owner", "secrets.read"), ("owner", "secrets.manage"), ("admin", "secrets.manage"))


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    statements = [
        *scoped_table_sql(DATA_KEYS, roles),
        *scoped_table_sql(SECRETS, roles),
        *scoped_table_sql(VERSIONS, roles),
        *scoped_table_sql(ACCESS_LOG, roles),
        # The platform never rewrites it; it deletes only in a purge, which the guard checks.
        f'REVOKE UPDATE ON tenantry.secret_access_log FROM "{roles.platform}"',
        GUARD,
        "REVOKE ALL ON FUNCTION tenantry_private.secret_access_log_guard() FROM PUBLIC",
        """
        CREATE TRIGGER secret_access_log_guard BEFORE UPDATE OR DELETE
        ON tenantry.secret_access_log
        FOR EACH ROW EXECUTE FUNCTION tenantry_private.secret_access_log_guard()
        """,
        """
        CREATE TRIGGER secret_access_log_no_truncate BEFORE TRUNCATE
        ON tenantry.secret_access_log
        FOR EACH STATEMENT EXECUTE FUNCTION tenantry_private.secret_access_log_guard()
        """,
    ]
    for statement in statements:
        op.execute(statement)
    bind = op.get_bind()
    for key, description in PRIVILEGES:
        bind.exec_driver_sql(
            "INSERT INTO tenantry.privileges (key, description) VALUES (%s, %s)", (key, description)
        )
    for template, key in TEMPLATES:
        bind.exec_driver_sql(
            "INSERT INTO tenantry.role_template_privileges VALUES (%s, %s)", (template, key)
        )


def downgrade() -> None:
    for key, _ in PRIVILEGES:
        op.execute(f"DELETE FROM tenantry.role_template_privileges WHERE privilege_key = '{key}'")
        op.execute(f"DELETE FROM tenantry.privileges WHERE key = '{key}'")
    for table in ("secret_access_log", "secret_versions", "secrets", "secret_data_keys"):
        op.execute(
            "DELETE FROM tenantry.scoped_tables "
            f"WHERE table_schema = 'tenantry' AND table_name = '{table}'"
        )
        op.execute(f"DROP TABLE tenantry.{table}")
    op.execute("DROP FUNCTION tenantry_private.secret_access_log_guard()")
