"""SQL that verifies the signed context inside the database (see `tenantry.kit.context`).

Policies wrap each accessor in a sub-select, `(SELECT tenantry.current_tenant_id())`, so the
planner evaluates it once per statement as an init plan instead of once per row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenantry.isolation.roles import Roles

ACCESSORS = {
    "current_tenant_id": ("uuid", "tenant_id"),
    "current_app_id": ("uuid", "app_id"),
    "current_app_user_id": ("uuid", "app_user_id"),
    "current_cross_app": ("boolean", "coalesce(cross_app, false)"),
    "current_is_platform": ("boolean", "coalesce(platform, false)"),
}


def context_functions_sql(roles: Roles) -> list[str]:
    statements = [
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
        CREATE FUNCTION tenantry_private.verified_context()
        RETURNS tenantry_private.context_claims
        LANGUAGE plpgsql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $fn$
        DECLARE
            token text := current_setting('tenantry.context', true);
            parts text[];
            pads record;
            claims tenantry_private.context_claims;
        BEGIN
            -- Only string operations run before the MAC is verified, so nothing here can raise.
            -- A token that verifies was produced by Tenantry's signer, whose fields are always
            -- well-formed, so the casts after verification cannot fail either (and the function
            -- needs no exception block, which would cost a subtransaction per call).
            parts := string_to_array(token, '.');
            IF cardinality(parts) IS DISTINCT FROM 8 OR parts[1] <> 'v1' THEN
                RETURN NULL;
            END IF;
            SELECT k.inner_pad, k.outer_pad INTO pads
              FROM tenantry_private.context_keys k
             WHERE k.kid = parts[2] AND k.retired_at IS NULL;
            IF NOT FOUND THEN
                RETURN NULL;
            END IF;
            -- Comparing digests of both MACs makes the comparison time independent of how many
            -- leading characters of a guessed signature are right.
            IF sha256(convert_to(parts[8], 'UTF8')) IS DISTINCT FROM sha256(convert_to(encode(
                   sha256(pads.outer_pad || sha256(pads.inner_pad
                       || convert_to(array_to_string(parts[1:7], '.'), 'UTF8'))),
                   'hex'), 'UTF8')) THEN
                RETURN NULL;
            END IF;
            IF parts[7]::bigint <= extract(epoch FROM statement_timestamp()) THEN
                RETURN NULL;
            END IF;
            claims.tenant_id := nullif(parts[3], '')::uuid;
            claims.app_id := nullif(parts[4], '')::uuid;
            claims.app_user_id := nullif(parts[5], '')::uuid;
            claims.cross_app := strpos(parts[6], 'a') > 0;
            claims.platform := strpos(parts[6], 'p') > 0;
            RETURN claims;
        END
        $fn$
        """,
        "REVOKE ALL ON FUNCTION tenantry_private.verified_context() FROM PUBLIC",
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
    ]
    for name, (type_, expression) in ACCESSORS.items():
        statements += [
            f"""
            CREATE FUNCTION tenantry.{name}() RETURNS {type_}
            LANGUAGE sql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $fn$ SELECT {expression} FROM tenantry_private.verified_context() $fn$
            """,
            f"REVOKE ALL ON FUNCTION tenantry.{name}() FROM PUBLIC",
            f'GRANT EXECUTE ON FUNCTION tenantry.{name}() TO "{roles.runtime}", "{roles.platform}"',
        ]
    return statements
