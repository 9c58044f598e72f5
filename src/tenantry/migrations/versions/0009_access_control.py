"""Roles and privileges, departments and delegated administration.

Global catalogs (read by every context, written by the platform): `privileges` (platform and
app privileges), `role_templates` and their privileges. Tenant tables: `roles` (from a template
or custom) with `role_privileges`, `role_template_overrides` (grant or revoke a privilege of a
template within one tenant), `departments` (a tree; each row stores its path from the root, so
ancestors and subtrees are one array test, and a trigger refuses cycles), `department_members`
and `role_assignments` (a role given to a user, a department or a group, optionally for one app,
optionally until a time, optionally limited to a department subtree: a delegated administrator).

`tenantry.effective_privileges(tenant, app, user)` is the one definition of what a user holds:
the tenant context and the services read it. A guard trigger refuses, in the database, any
grant whose granting user (the signed context's user) does not hold what it hands out.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from tenantry.isolation.ddl import (
    Reference,
    Scope,
    ScopedTable,
    catalog_grants_sql,
    scoped_table_sql,
)

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PRIVILEGES = (
    ("users.invite", "Invite users into the tenant's apps"),
    ("users.manage", "Deactivate, reactivate and edit users"),
    ("roles.manage", "Create and edit roles, their privileges and template overrides"),
    ("roles.assign", "Assign roles to users, departments and groups"),
    ("departments.manage", "Create, rename, move and delete departments and their members"),
    ("delegation.grant", "Make someone administrator of a department subtree"),
    ("audit.read", "Read the tenant's audit log"),
    ("settings.read", "Read the tenant's settings"),
    ("impersonation.start", "Act as another user of the tenant, with a reason"),
    ("privileges.register", "Register an app's privileges in the catalog (platform)"),
)
TEMPLATES = {
    "owner": ("Owner", [key for key, _ in PRIVILEGES]),
    "admin": (
        "Administrator",
        [
            "users.invite",
            "users.manage",
            "roles.assign",
            "departments.manage",
            "delegation.grant",
            "audit.read",
            "settings.read",
        ],
    ),
    "member": ("Member", ["settings.read"]),
    "viewer": ("Viewer", []),
    "auditor": ("Auditor", ["audit.read", "settings.read"]),
}
ZERO = "'00000000-0000-0000-0000-000000000000'::uuid"

ROLES = ScopedTable(
    name="roles",
    scope=Scope.TENANT,
    columns=(
        "key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_.-]{1,63}$')",
        "name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200)",
        "template_key text REFERENCES tenantry.role_templates (key)",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("key",),
)
ROLE_PRIVILEGES = ScopedTable(
    name="role_privileges",
    scope=Scope.TENANT,
    columns=(
        "role_id uuid NOT NULL",
        "privilege_key text NOT NULL REFERENCES tenantry.privileges (key) ON DELETE CASCADE",
    ),
    references=(Reference(("role_id",), "roles", on_delete="CASCADE"),),
    unique=("role_id, privilege_key",),
)
OVERRIDES = ScopedTable(
    name="role_template_overrides",
    scope=Scope.TENANT,
    columns=(
        "template_key text NOT NULL REFERENCES tenantry.role_templates (key)",
        "privilege_key text NOT NULL REFERENCES tenantry.privileges (key) ON DELETE CASCADE",
        "effect text NOT NULL CHECK (effect IN ('grant', 'revoke'))",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("template_key, privilege_key",),
    # The owner always holds every privilege: nothing overrides it.
    checks=("template_key <> 'owner'",),
)
DEPARTMENTS = ScopedTable(
    name="departments",
    scope=Scope.TENANT,
    columns=(
        "parent_id uuid",
        "name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200)",
        # Root first, the department itself last; kept by `tenantry.department_path()`.
        "path uuid[] NOT NULL CHECK (cardinality(path) BETWEEN 1 AND 32)",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    # NO ACTION: a purge deletes a whole tree in one statement, checked at its end.
    references=(Reference(("parent_id",), "departments", on_delete="NO ACTION"),),
    unique=(f"coalesce(parent_id, {ZERO}), name",),
    indexes=("parent_id",),
)
MEMBERS = ScopedTable(
    name="department_members",
    scope=Scope.TENANT,
    columns=(
        "department_id uuid NOT NULL",
        "user_app_id uuid NOT NULL",
        "app_user_id uuid NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    references=(
        Reference(("department_id",), "departments", on_delete="CASCADE"),
        Reference(("user_app_id", "app_user_id"), "app_users", ("app_id", "id"), "CASCADE"),
    ),
    unique=("department_id, app_user_id",),
    indexes=("app_user_id",),
)
ASSIGNMENTS = ScopedTable(
    name="role_assignments",
    scope=Scope.TENANT,
    columns=(
        "role_id uuid NOT NULL",
        "subject_kind text NOT NULL CHECK (subject_kind IN ('user', 'department', 'group'))",
        "subject_id uuid NOT NULL",
        # A user's app (users are identities of one app); NULL for departments and groups.
        "subject_app_id uuid",
        (
            "subject_department_id uuid GENERATED ALWAYS AS "
            "(CASE WHEN subject_kind = 'department' THEN subject_id END) STORED"
        ),
        # NULL: every app of the tenant; otherwise only in that app.
        "only_app_id uuid",
        # NULL: tenant-wide; otherwise only within this department's subtree (delegation).
        "scope_department_id uuid",
        "expires_at timestamptz",
        "revoked_at timestamptz",
        "granted_by text NOT NULL",
        "granted_by_user uuid",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    # Assignments are ended (revoked_at), never deleted: their rows are the grant history, and
    # removing a user's last one must not give an administrator back implicit ownership.
    references=(
        Reference(("role_id",), "roles"),
        Reference(("subject_app_id", "subject_id"), "app_users", ("app_id", "id"), "CASCADE"),
        Reference(("subject_department_id",), "departments"),
        Reference(("scope_department_id",), "departments"),
        Reference(("only_app_id",), "tenant_apps", ("app_id",), "CASCADE"),
    ),
    indexes=("subject_kind, subject_id", "role_id"),
    checks=(
        "(subject_kind = 'user') = (subject_app_id IS NOT NULL)",
        "expires_at IS NULL OR expires_at > created_at",
    ),
)
TABLES = (ROLES, ROLE_PRIVILEGES, OVERRIDES, DEPARTMENTS, MEMBERS, ASSIGNMENTS)

# Paths are always recomputed from the parent, whatever a statement wrote into them; after a
# path changes, the children are recomputed in turn, so a subtree moves with its root.
DEPARTMENT_PATH = """
CREATE FUNCTION tenantry.department_path() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, tenantry AS $fn$
DECLARE
    parent_path uuid[];
BEGIN
    IF TG_WHEN = 'AFTER' THEN
        UPDATE tenantry.departments d SET path = '{}'
         WHERE d.tenant_id = NEW.tenant_id AND d.parent_id = NEW.id;
        RETURN NULL;
    END IF;
    -- One tree change at a time per tenant: two concurrent moves cannot close a cycle.
    PERFORM pg_advisory_xact_lock(hashtextextended('tenantry.departments:' || NEW.tenant_id, 0));
    IF NEW.parent_id IS NULL THEN
        NEW.path := ARRAY[NEW.id];
    ELSE
        SELECT d.path INTO parent_path FROM tenantry.departments d
         WHERE d.tenant_id = NEW.tenant_id AND d.id = NEW.parent_id;
        IF parent_path IS NULL THEN
            RAISE foreign_key_violation USING MESSAGE = 'no such parent department';
        END IF;
        IF NEW.id = ANY (parent_path) THEN
            RAISE check_violation USING
                MESSAGE = 'a department cannot be moved under itself or its own subtree',
                CONSTRAINT = 'departments_no_cycle';
        END IF;
        NEW.path := parent_path || NEW.id;
    END IF;
    RETURN NEW;
END
$fn$
"""

EFFECTIVE = """
CREATE FUNCTION tenantry.effective_privileges(p_tenant uuid, p_app uuid, p_user uuid)
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
$fn$
"""

# In a user's context (not the platform's), nobody hands out what they do not hold: a role
# given, a privilege added to a role, a template widened. The granting user is the signed
# context's user, which SQL cannot forge.
GUARD = """
CREATE FUNCTION tenantry.access_grant_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, tenantry AS $fn$
DECLARE
    ctx record;
    missing text;
BEGIN
    SELECT s.tenant_id, s.app_id, s.app_user_id INTO ctx FROM tenantry.current_scope s;
    IF ctx.app_user_id IS NULL THEN
        RETURN NEW;  -- the platform, or a context without a user: the service decided
    END IF;
    IF TG_TABLE_NAME = 'role_assignments' THEN
        IF NEW.granted_by_user IS DISTINCT FROM ctx.app_user_id THEN
            RAISE insufficient_privilege USING MESSAGE = 'a grant names its granting user';
        END IF;
        SELECT string_agg(g.privilege_key, ', ') INTO missing FROM (
            SELECT rp.privilege_key FROM tenantry.role_privileges rp
             WHERE rp.tenant_id = NEW.tenant_id AND rp.role_id = NEW.role_id
            UNION
            SELECT tp.privilege_key FROM tenantry.roles r
              JOIN tenantry.role_template_privileges tp ON tp.template_key = r.template_key
             WHERE r.tenant_id = NEW.tenant_id AND r.id = NEW.role_id
        ) g
         WHERE g.privilege_key NOT IN (
            SELECT e.privilege_key
              FROM tenantry.effective_privileges(ctx.tenant_id, ctx.app_id, ctx.app_user_id) e);
    ELSIF TG_TABLE_NAME = 'role_privileges' OR to_jsonb(NEW) ->> 'effect' = 'grant' THEN
        SELECT NEW.privilege_key INTO missing
         WHERE NEW.privilege_key NOT IN (
            SELECT e.privilege_key
              FROM tenantry.effective_privileges(ctx.tenant_id, ctx.app_id, ctx.app_user_id) e
             WHERE e.scope_department_id IS NULL);
    END IF;
    IF missing IS NOT NULL THEN
        RAISE insufficient_privilege USING MESSAGE = 'the granting user does not hold: ' || missing;
    END IF;
    RETURN NEW;
END
$fn$
"""


def _catalogs_sql() -> list[str]:
    return [
        """
        CREATE TABLE tenantry.privileges (
            key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*){1,4}$'),
            description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
            owner_app_id uuid REFERENCES tenantry.apps (id),
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE tenantry.role_templates (
            key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{1,63}$'),
            name text NOT NULL
        )
        """,
        """
        CREATE TABLE tenantry.role_template_privileges (
            template_key text NOT NULL REFERENCES tenantry.role_templates (key),
            privilege_key text NOT NULL REFERENCES tenantry.privileges (key) ON DELETE CASCADE,
            PRIMARY KEY (template_key, privilege_key)
        )
        """,
    ]


def _seed() -> None:
    bind = op.get_bind()
    for key, description in PRIVILEGES:
        bind.exec_driver_sql(
            "INSERT INTO tenantry.privileges (key, description) VALUES (%s, %s)", (key, description)
        )
    for key, (name, granted) in TEMPLATES.items():
        bind.exec_driver_sql(
            "INSERT INTO tenantry.role_templates (key, name) VALUES (%s, %s)", (key, name)
        )
        for privilege in granted:
            bind.exec_driver_sql(
                "INSERT INTO tenantry.role_template_privileges VALUES (%s, %s)", (key, privilege)
            )


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    for statement in _catalogs_sql():
        op.execute(statement)
    for catalog in ("privileges", "role_templates", "role_template_privileges"):
        for statement in catalog_grants_sql(f"tenantry.{catalog}", roles):
            op.execute(statement)
    _seed()
    for table in TABLES:
        for statement in scoped_table_sql(table, roles):
            op.execute(statement)
    op.execute(DEPARTMENT_PATH)
    op.execute(
        "CREATE TRIGGER department_path BEFORE INSERT OR UPDATE OF parent_id, path "
        "ON tenantry.departments FOR EACH ROW EXECUTE FUNCTION tenantry.department_path()"
    )
    op.execute(
        "CREATE TRIGGER department_subtree AFTER UPDATE OF parent_id, path "
        "ON tenantry.departments FOR EACH ROW WHEN (NEW.path IS DISTINCT FROM OLD.path) "
        "EXECUTE FUNCTION tenantry.department_path()"
    )
    op.execute(EFFECTIVE)
    op.execute(GUARD)
    for guarded in ("role_assignments", "role_privileges", "role_template_overrides"):
        op.execute(
            f"CREATE TRIGGER access_grant_guard BEFORE INSERT ON tenantry.{guarded} "
            "FOR EACH ROW EXECUTE FUNCTION tenantry.access_grant_guard()"
        )
    grantees = f'"{roles.runtime}", "{roles.platform}"'
    for function in (
        "tenantry.department_path()",
        "tenantry.effective_privileges(uuid, uuid, uuid)",
        "tenantry.access_grant_guard()",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {grantees}")


def downgrade() -> None:
    op.execute("DROP FUNCTION tenantry.effective_privileges(uuid, uuid, uuid)")
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table.qualified}")
        op.execute(
            "DELETE FROM tenantry.scoped_tables "
            f"WHERE table_schema = '{table.schema}' AND table_name = '{table.name}'"
        )
    op.execute("DROP FUNCTION tenantry.department_path()")
    op.execute("DROP FUNCTION tenantry.access_grant_guard()")
    for catalog in ("role_template_privileges", "role_templates", "privileges"):
        op.execute(f"DROP TABLE tenantry.{catalog}")
