"""SQL that verifies the signed context inside the database (see `tenantry.kit.context`).

`tenantry.context_scope()` is the one verifier the policies call: it checks the HMAC once and
returns every claim at once (tenant, app, user, flags). Policies reach it through one sub-select
per statement, an init plan, whose outputs stay index conditions:

    (tenant_id, app_id) = (SELECT s.tenant_id, s.app_id FROM tenantry.context_scope() s)

A row comparison against one sub-select is one init plan with two outputs; writing the tenant
and the app as two sub-selects would verify twice. Sets of visible scopes (cross-app reads,
tenant-wide rows) compare a stored `scope_key` with `tenantry.readable_scope_keys(…)`.
The older one-claim accessors (`tenantry.current_tenant_id()`, …) remain for ad-hoc SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenantry.isolation.roles import Roles

# Convenience accessors for ad-hoc SQL (`WHERE id = current_app_user_id()`); policies use
# `context_scope()` directly, once.
ACCESSORS = {
    "current_tenant_id": ("uuid", "tenant_id"),
    "current_app_id": ("uuid", "app_id"),
    "current_app_user_id": ("uuid", "app_user_id"),
    "current_cross_app": ("boolean", "coalesce(all_apps, false)"),
    "current_is_platform": ("boolean", "coalesce(platform, false)"),
}


def context_functions_sql(roles: Roles) -> list[str]:
    """Everything the policies and the signer need; for a new database."""
    return [
        """
        CREATE TABLE tenantry_private.context_keys (
            kid text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{1,64}$'),
            secret bytea NOT NULL CHECK (length(secret) >= 32),
            inner_pad bytea NOT NULL CHECK (length(inner_pad) = 64),
            outer_pad bytea NOT NULL CHECK (length(outer_pad) = 64),
            created_at timestamptz NOT NULL DEFAULT now(),
            retired_at timestamptz
        )
        """,
        """
        CREATE TYPE tenantry_private.context_claims AS (
            tenant_id uuid,
            app_id uuid,
            app_user_id uuid,
            cross_app boolean,
            platform boolean
        )
        """,
        """
        CREATE FUNCTION tenantry_private.signing_key(OUT kid text, OUT secret bytea)
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $fn$
            SELECT k.kid, k.secret FROM tenantry_private.context_keys k
             WHERE k.retired_at IS NULL ORDER BY k.created_at DESC, k.kid DESC LIMIT 1
        $fn$
        """,
        "REVOKE ALL ON FUNCTION tenantry_private.signing_key() FROM PUBLIC",
        f'GRANT USAGE ON SCHEMA tenantry_private TO "{roles.platform}"',
        f'GRANT EXECUTE ON FUNCTION tenantry_private.signing_key() TO "{roles.platform}"',
        *context_scope_sql(roles),
    ]


# The verifier, fast: one split of the token, one keyed lookup that also checks the MAC, no
# composite built in PL/pgSQL (OUT parameters are filled in place). Expired, unsigned or
# malformed tokens give a row of NULLs, so every policy predicate is NULL: no rows, and 42501
# on write.
CONTEXT_SCOPE = """
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
    -- Only string operations run before the MAC is verified, so nothing here can raise; a
    -- token that verifies was produced by Tenantry's signer, so the casts after it cannot fail.
    IF cardinality(parts) IS DISTINCT FROM 8 OR parts[1] <> 'v1' OR length(parts[8]) <> 64 THEN
        RETURN;
    END IF;
    -- Digests of both MACs are compared, so the comparison time does not depend on how many
    -- leading characters of a guessed signature are right.
    PERFORM FROM tenantry_private.context_keys k
     WHERE k.kid = parts[2] AND k.retired_at IS NULL
       AND sha256(textsend(parts[8])) = sha256(textsend(encode(
             sha256(k.outer_pad || sha256(k.inner_pad || textsend(left(token, -65)))), 'hex')));
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
"""


# The key of a row's scope: its tenant, and its app if it has one. Concatenating the two fixed
# 16-byte values is injective, so two different scopes never share a key.
def scope_key_sql(tenant: str, app: str) -> str:
    return (
        f"pg_catalog.uuid_send({tenant}) OPERATOR(pg_catalog.||) "
        f"coalesce(pg_catalog.uuid_send({app}), '\\x'::bytea)"
    )


SCOPE_KEY_EXPRESSION = scope_key_sql("tenant_id", "app_id")

READABLE_SCOPE_KEYS = """
CREATE OR REPLACE FUNCTION tenantry.readable_scope_keys(tenant uuid, app uuid, all_apps boolean)
RETURNS bytea[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- Tenant-wide rows (no app), plus the context's app, or every app for a cross-app reader.
    IF all_apps THEN
        RETURN ARRAY(SELECT uuid_send(tenant) || uuid_send(a.id) FROM tenantry.apps a)
               || uuid_send(tenant);
    ELSIF app IS NULL THEN
        RETURN ARRAY[uuid_send(tenant)];
    END IF;
    RETURN ARRAY[uuid_send(tenant) || uuid_send(app), uuid_send(tenant)];
END
$fn$
"""


def context_scope_sql(roles: Roles) -> list[str]:
    """The verifier and its helpers; `CREATE OR REPLACE`, so migrations may run it again."""
    grantees = f'"{roles.runtime}", "{roles.platform}"'
    return [
        CONTEXT_SCOPE,
        "REVOKE ALL ON FUNCTION tenantry.context_scope() FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION tenantry.context_scope() TO {grantees}",
        READABLE_SCOPE_KEYS,
        "REVOKE ALL ON FUNCTION tenantry.readable_scope_keys(uuid, uuid, boolean) FROM PUBLIC",
        (
            "GRANT EXECUTE ON FUNCTION tenantry.readable_scope_keys(uuid, uuid, boolean) "
            f"TO {grantees}"
        ),
        # The claims as one value, for code that wants them together (owner-only).
        """
        CREATE OR REPLACE FUNCTION tenantry_private.verified_context()
        RETURNS tenantry_private.context_claims
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $fn$
            SELECT ROW(s.tenant_id, s.app_id, s.app_user_id, s.all_apps, s.platform)
                   ::tenantry_private.context_claims
              FROM tenantry.context_scope() s
        $fn$
        """,
        "REVOKE ALL ON FUNCTION tenantry_private.verified_context() FROM PUBLIC",
        *(
            statement
            for name, (type_, expression) in ACCESSORS.items()
            for statement in (
                f"""
                CREATE OR REPLACE FUNCTION tenantry.{name}() RETURNS {type_}
                LANGUAGE sql STABLE
                SET search_path = pg_catalog, pg_temp
                AS $fn$ SELECT {expression} FROM tenantry.context_scope() $fn$
                """,
                f"REVOKE ALL ON FUNCTION tenantry.{name}() FROM PUBLIC",
                f"GRANT EXECUTE ON FUNCTION tenantry.{name}() TO {grantees}",
            )
        ),
    ]
