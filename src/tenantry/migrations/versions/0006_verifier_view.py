"""The signed context is verified by a view that policies inline, and keyed tables get statistics.

- `tenantry.current_scope` (a security-barrier view) replaces the PL/pgSQL SECURITY DEFINER
  verifier in every policy; `tenantry.context_scope()` and the one-claim accessors now read
  the view. `tenantry.readable_scope_keys()` becomes the view's `readable_scope_keys` column.
- Tables keyed by `scope_key` get extended statistics (functional dependencies), so the planner
  knows the key follows from (tenant_id, app_id) and walks indexes for keyset pages.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alembic import op

from tenantry.isolation.context_sql import context_scope_sql
from tenantry.isolation.ddl import (
    READABLE_SCOPES,
    REGISTERED_TABLES,
    ScopedTable,
    registered_table,
    rls_sql,
    scope_statistics_sql,
    tenant_root_policies_sql,
)

if TYPE_CHECKING:
    from tenantry.isolation.roles import Roles

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _rows(sql: str) -> list[Any]:
    return list(op.get_bind().exec_driver_sql(sql).fetchall())


def _registered() -> list[ScopedTable]:
    return [registered_table(*row) for row in _rows(REGISTERED_TABLES)]


def _regenerate_policies(rewrite: dict[str, str]) -> None:
    """Every registered table's policies (and the tenants root's), as the generator writes them
    today, with `rewrite`'s replacements applied to the policy text."""
    roles = _roles()

    def apply(statement: str) -> str:
        for old, new in rewrite.items():
            statement = statement.replace(old, new)
        return statement

    for table in [*_registered(), None]:
        qualified = table.qualified if table else "tenantry.tenants"
        for (name,) in _rows(
            f"SELECT polname FROM pg_policy WHERE polrelid = '{qualified}'::regclass"
        ):
            op.execute(f'DROP POLICY "{name}" ON {qualified}')
        statements = rls_sql(table, roles) if table else tenant_root_policies_sql(roles)
        for statement in statements:
            op.execute(apply(statement))


def _roles() -> Roles:
    config = op.get_context().config
    assert config is not None
    roles: Roles = config.attributes["roles"]
    return roles


def upgrade() -> None:
    for statement in context_scope_sql(_roles()):
        op.execute(statement)
    _regenerate_policies({})
    # Databases created after this revision never had it.
    op.execute("DROP FUNCTION IF EXISTS tenantry.readable_scope_keys(uuid, uuid, boolean)")
    for table in _registered():
        for statement in scope_statistics_sql(table):
            op.execute(statement)
            op.execute(f"ANALYZE {table.qualified}")


# Revision 0005's verifier and the policy text that called it, for downgrade.
_PREVIOUS_CONTEXT = "FROM tenantry.context_scope() s"
_PREVIOUS_READABLE = (
    "scope_key = ANY ((SELECT tenantry.readable_scope_keys(s.tenant_id, s.app_id, s.all_apps) "
    "FROM tenantry.context_scope() s)::bytea[])"
)
_PREVIOUS_FUNCTIONS = (
    """
    CREATE OR REPLACE FUNCTION tenantry.context_scope(
        OUT tenant_id uuid, OUT app_id uuid, OUT app_user_id uuid,
        OUT all_apps boolean, OUT platform boolean)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
    DECLARE
        token text := current_setting('tenantry.context', true);
        parts text[] := string_to_array(token, '.');
    BEGIN
        IF cardinality(parts) IS DISTINCT FROM 8 OR parts[1] <> 'v1'
           OR length(parts[8]) <> 64 THEN
            RETURN;
        END IF;
        PERFORM FROM tenantry_private.context_keys k
         WHERE k.kid = parts[2] AND k.retired_at IS NULL
           AND sha256(textsend(parts[8])) = sha256(textsend(encode(
                 sha256(k.outer_pad || sha256(k.inner_pad || textsend(left(token, -65)))),
                 'hex')));
        IF NOT FOUND THEN
            RETURN;
        END IF;
        IF parts[7]::bigint <= extract(epoch FROM statement_timestamp()) THEN
            RETURN;
        END IF;
        tenant_id := nullif(parts[3], '')::uuid;
        app_id := nullif(parts[4], '')::uuid;
        app_user_id := nullif(parts[5], '')::uuid;
        all_apps := strpos(parts[6], 'a') > 0;
        platform := strpos(parts[6], 'p') > 0;
    END
    $fn$
    """,
    """
    CREATE OR REPLACE FUNCTION tenantry.readable_scope_keys(
        tenant uuid, app uuid, all_apps boolean)
    RETURNS bytea[]
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
    BEGIN
        IF all_apps THEN
            RETURN ARRAY(SELECT uuid_send(tenant) || uuid_send(a.id) FROM tenantry.apps a)
                   || uuid_send(tenant);
        ELSIF app IS NULL THEN
            RETURN ARRAY[uuid_send(tenant)];
        END IF;
        RETURN ARRAY[uuid_send(tenant) || uuid_send(app), uuid_send(tenant)];
    END
    $fn$
    """,
)


def downgrade() -> None:
    roles = _roles()
    grantees = f'"{roles.runtime}", "{roles.platform}"'
    for statement in _PREVIOUS_FUNCTIONS:
        op.execute(statement)
    op.execute(
        "REVOKE ALL ON FUNCTION tenantry.readable_scope_keys(uuid, uuid, boolean) FROM PUBLIC"
    )
    op.execute(
        f"GRANT EXECUTE ON FUNCTION tenantry.readable_scope_keys(uuid, uuid, boolean) TO {grantees}"
    )
    _regenerate_policies(
        {READABLE_SCOPES: _PREVIOUS_READABLE, "FROM tenantry.current_scope s": _PREVIOUS_CONTEXT}
    )
    for schema, name in _rows(
        "SELECT n.nspname, s.stxname FROM pg_statistic_ext s "
        "JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE right(s.stxname, 10) = '_scope_key'"
    ):
        op.execute(f"DROP STATISTICS {schema}.{name}")
    op.execute("DROP VIEW tenantry.current_scope")
