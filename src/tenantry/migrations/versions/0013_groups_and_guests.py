"""Groups, tenant policies and guests from other tenants.

Tenant tables: `groups` and `group_memberships` (users of any of the tenant's apps),
`tenant_policies` (one row per tenant: guests in, guests out, for which apps, up to which role;
no row denies), `guests` (which of the host's identities are guests; read-only at runtime)
and `guest_links` (the platform's record of each guest's home identity in another tenant).
A guest's privileges are capped in `effective_privileges` by the host policy. Role
assignments to a group (stored since 0009) now reach its members: `effective_privileges` is
replaced by a definition that also follows group memberships, still one statement.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

from tenantry.isolation.ddl import Reference, RuntimeAccess, Scope, ScopedTable, scoped_table_sql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

PRIVILEGES = (
    ("groups.manage", "Create and edit groups and their members"),
    ("policies.manage", "Decide whether guests come in from, or go out to, other tenants"),
)
# The owner holds every privilege; administrators manage groups too.
TEMPLATES = {"groups.manage": ("owner", "admin"), "policies.manage": ("owner",)}

GROUPS = ScopedTable(
    name="groups",
    scope=Scope.TENANT,
    columns=(
        "name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200)",
        "description text NOT NULL DEFAULT '' CHECK (length(description) <= 500)",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("name",),
)
GROUP_MEMBERSHIPS = ScopedTable(
    name="group_memberships",
    scope=Scope.TENANT,
    columns=(
        "group_id uuid NOT NULL",
        "user_app_id uuid NOT NULL",
        "app_user_id uuid NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    references=(
        Reference(("group_id",), "groups", on_delete="CASCADE"),
        Reference(("user_app_id", "app_user_id"), "app_users", ("app_id", "id"), "CASCADE"),
    ),
    unique=("group_id, app_user_id",),
    indexes=("app_user_id",),
)
# One row per tenant (absent: the defaults, which deny). Written by the tenant's administrators.
TENANT_POLICIES = ScopedTable(
    name="tenant_policies",
    scope=Scope.TENANT,
    columns=(
        "singleton boolean NOT NULL DEFAULT true CHECK (singleton)",
        # Guests from other tenants may join this tenant's groups (in `guest_apps` only).
        "guests_in boolean NOT NULL DEFAULT false",
        # This tenant's users may be guests elsewhere (in `guest_apps` only).
        "guests_out boolean NOT NULL DEFAULT false",
        "guest_apps uuid[] NOT NULL DEFAULT '{}' CHECK (cardinality(guest_apps) <= 64)",
        # The most a guest may hold here: a role template (never the owner's).
        (
            "guest_max_role text NOT NULL DEFAULT 'viewer' "
            "REFERENCES tenantry.role_templates (key) CHECK (guest_max_role <> 'owner')"
        ),
        "updated_by text NOT NULL",
        "updated_at timestamptz NOT NULL DEFAULT now()",
    ),
    primary_key=("singleton",),
)
# A host tenant's identities that are guests (readable in the host's context, which caps what
# they hold); written only on the platform path, when a guest is admitted.
GUESTS = ScopedTable(
    name="guests",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.READ_ONLY,
    columns=(
        "guest_app_id uuid NOT NULL",
        "app_user_id uuid NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    references=(
        Reference(("guest_app_id", "app_user_id"), "app_users", ("app_id", "id"), "CASCADE"),
    ),
    unique=("app_user_id",),
)
# Which home identity (another tenant's) a guest identity belongs to: the platform path only,
# like the cross-app correlation; no runtime context reads it, so neither tenant learns the
# other's identifiers.
GUEST_LINKS = ScopedTable(
    name="guest_links",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.NONE,
    columns=(
        "guest_app_id uuid NOT NULL",
        "app_user_id uuid NOT NULL",
        "home_tenant_id uuid NOT NULL REFERENCES tenantry.tenants (id) ON DELETE CASCADE",
        "home_app_user_id uuid NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    references=(
        Reference(("guest_app_id", "app_user_id"), "app_users", ("app_id", "id"), "CASCADE"),
    ),
    unique=("app_user_id",),
    indexes=("home_tenant_id, home_app_user_id",),
    checks=("home_tenant_id <> tenant_id",),
)
TABLES = (GROUPS, GROUP_MEMBERSHIPS, TENANT_POLICIES, GUESTS, GUEST_LINKS)

EFFECTIVE = """
CREATE OR REPLACE FUNCTION tenantry.effective_privileges(p_tenant uuid, p_app uuid, p_user uuid)
RETURNS TABLE (privilege_key text, scope_department_id uuid)
LANGUAGE sql STABLE SECURITY INVOKER AS $fn$
WITH my_departments AS (
    SELECT DISTINCT unnest(d.path) AS id
      FROM tenantry.department_members m
      JOIN tenantry.departments d ON d.tenant_id = m.tenant_id AND d.id = m.department_id
     WHERE m.tenant_id = p_tenant AND m.app_user_id = p_user
), assigned AS (
    SELECT a.role_id, a.scope_department_id FROM tenantry.role_assignments a
     WHERE a.tenant_id = p_tenant AND a.subject_kind = 'user' AND a.subject_id = p_user
       AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > now())
       AND (a.only_app_id IS NULL OR a.only_app_id = p_app)
    UNION ALL
    SELECT a.role_id, a.scope_department_id FROM tenantry.role_assignments a
     WHERE a.tenant_id = p_tenant AND a.subject_kind = 'department'
       AND a.subject_id IN (SELECT id FROM my_departments)
       AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > now())
       AND (a.only_app_id IS NULL OR a.only_app_id = p_app)
    UNION ALL
    SELECT a.role_id, a.scope_department_id FROM tenantry.role_assignments a
     WHERE a.tenant_id = p_tenant AND a.subject_kind = 'group'
       AND a.subject_id IN (SELECT g.group_id FROM tenantry.group_memberships g
                             WHERE g.tenant_id = p_tenant AND g.app_user_id = p_user)
       AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > now())
       AND (a.only_app_id IS NULL OR a.only_app_id = p_app)
), held AS (
    SELECT s.role_id, r.template_key, s.scope_department_id
      FROM assigned s JOIN tenantry.roles r ON r.tenant_id = p_tenant AND r.id = s.role_id
    UNION ALL
    -- A user of the admin app who was never assigned a role holds the tenant's owner role.
    SELECT NULL::uuid, 'owner', NULL::uuid
     WHERE EXISTS (SELECT 1 FROM tenantry.app_users u
                    WHERE u.tenant_id = p_tenant AND u.id = p_user
                      AND u.app_id = (SELECT id FROM tenantry.apps WHERE slug = 'admin'))
       AND NOT EXISTS (SELECT 1 FROM tenantry.role_assignments x
                        WHERE x.tenant_id = p_tenant AND x.subject_kind = 'user'
                          AND x.subject_id = p_user)
)
-- A guest holds nothing beyond the host policy's guest_max_role, and nothing at all once the
-- host stops admitting guests in this app.
, guest_cap AS (
    SELECT tp.privilege_key FROM tenantry.tenant_policies pol
      JOIN tenantry.role_template_privileges tp ON tp.template_key = pol.guest_max_role
     WHERE pol.tenant_id = p_tenant AND pol.guests_in AND p_app = ANY (pol.guest_apps)
)
SELECT DISTINCT p.privilege_key, h.scope_department_id
  FROM held h
 CROSS JOIN LATERAL (
       SELECT rp.privilege_key FROM tenantry.role_privileges rp
        WHERE rp.tenant_id = p_tenant AND rp.role_id = h.role_id
       UNION
       (SELECT tp.privilege_key FROM tenantry.role_template_privileges tp
         WHERE tp.template_key = h.template_key
        UNION
        SELECT o.privilege_key FROM tenantry.role_template_overrides o
         WHERE o.tenant_id = p_tenant AND o.template_key = h.template_key AND o.effect = 'grant'
        EXCEPT
        SELECT o.privilege_key FROM tenantry.role_template_overrides o
         WHERE o.tenant_id = p_tenant AND o.template_key = h.template_key
           AND o.effect = 'revoke')
 ) p
 WHERE NOT EXISTS (SELECT 1 FROM tenantry.guests gu
                    WHERE gu.tenant_id = p_tenant AND gu.app_user_id = p_user)
    OR p.privilege_key IN (SELECT privilege_key FROM guest_cap)
$fn$
"""


def _effective_of_0009() -> str:
    """The definition this revision replaces, read from revision 0009 itself."""
    path = Path(__file__).with_name("0009_access_control.py")
    spec = importlib.util.spec_from_file_location("tenantry_revision_0009", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    definition: str = module.EFFECTIVE
    return definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    bind = op.get_bind()
    for key, description in PRIVILEGES:
        bind.exec_driver_sql(
            "INSERT INTO tenantry.privileges (key, description) VALUES (%s, %s)", (key, description)
        )
        for template in TEMPLATES[key]:
            bind.exec_driver_sql(
                "INSERT INTO tenantry.role_template_privileges VALUES (%s, %s)", (template, key)
            )
    for table in TABLES:
        for statement in scoped_table_sql(table, roles):
            op.execute(statement)
    op.execute(EFFECTIVE)


def downgrade() -> None:
    op.execute(_effective_of_0009())
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table.qualified}")
        op.execute(
            "DELETE FROM tenantry.scoped_tables "
            f"WHERE table_schema = '{table.schema}' AND table_name = '{table.name}'"
        )
    for key, _ in PRIVILEGES:
        op.execute(f"DELETE FROM tenantry.privileges WHERE key = '{key}'")
