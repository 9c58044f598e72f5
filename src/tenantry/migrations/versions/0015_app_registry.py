"""The app registry: versioned manifests, gateway routes and per-tenant enablement.

`apps` gains its vendor, latest version and the hash of that version's manifest.
`app_versions` (global catalog) holds every published manifest; a version is immutable: the
platform role has no UPDATE or DELETE and a trigger refuses both for anyone, the owner
included. `app_routes` (global catalog) maps a version's path prefix to the operator's upstream.
`tenant_apps` gains its status (a disabled app keeps every row of its data), a pinned version
(NULL follows the latest) and its validated config; `tenant_app_history` records each change.

The catalogs name their app `catalog_app_id`, never `app_id`: `tenantry audit-db` takes every
table with a `tenant_id` or `app_id` column for a tenant table that needs row-level security.

The five seed apps are published as 1.0.0 from the manifests shipped in
`tenantry/registry/manifests/`, so every installation has them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources

from alembic import op

from tenantry.isolation.ddl import (
    RuntimeAccess,
    Scope,
    ScopedTable,
    catalog_grants_sql,
    scoped_table_sql,
)

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SEED_SLUGS = ("thinktank", "launchboard", "alwaysme", "mechanicalmaker", "admin")
SEED_VERSION = "1.0.0"
# Semantic Versioning 2.0.0 (semver.org's regex, without the build metadata's uniqueness).
SEMVER = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-((0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?$"
)

TENANT_APP_HISTORY = ScopedTable(
    name="tenant_app_history",
    scope=Scope.TENANT,
    # Written by the control plane with the change it records; apps only read it.
    runtime_access=RuntimeAccess.READ_ONLY,
    columns=(
        "app_id uuid NOT NULL REFERENCES tenantry.apps (id)",
        "revision integer NOT NULL CHECK (revision >= 1)",
        "status text NOT NULL CHECK (status IN ('enabled', 'disabled'))",
        "pinned_version text",
        "config jsonb NOT NULL",
        "changed_by text NOT NULL",
        "reason text NOT NULL DEFAULT '' CHECK (length(reason) <= 500)",
        "changed_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("app_id, revision",),
)

IMMUTABLE = """
CREATE FUNCTION tenantry_private.app_versions_immutable() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'a published app version is immutable: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$
"""


def canonical_json(document: object) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes a manifest hash is taken over."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    statements = [
        (
            "ALTER TABLE tenantry.apps ADD COLUMN vendor text NOT NULL DEFAULT ''"
            " CHECK (length(vendor) <= 200)"
        ),
        "ALTER TABLE tenantry.apps ADD COLUMN latest_version text",
        "ALTER TABLE tenantry.apps ADD COLUMN manifest_hash bytea",
        f"""
        CREATE TABLE tenantry.app_versions (
            catalog_app_id uuid NOT NULL REFERENCES tenantry.apps (id),
            version text NOT NULL CHECK (version ~ '{SEMVER}' AND length(version) <= 100),
            manifest jsonb NOT NULL CHECK (jsonb_typeof(manifest) = 'object'),
            manifest_hash bytea NOT NULL CHECK (length(manifest_hash) = 32),
            min_platform_version text NOT NULL CHECK (min_platform_version ~ '{SEMVER}'),
            published_at timestamptz NOT NULL DEFAULT now(),
            published_by text NOT NULL,
            PRIMARY KEY (catalog_app_id, version)
        )
        """,
        *catalog_grants_sql("tenantry.app_versions", roles),
        f'REVOKE UPDATE, DELETE ON tenantry.app_versions FROM "{roles.platform}"',
        IMMUTABLE,
        "REVOKE ALL ON FUNCTION tenantry_private.app_versions_immutable() FROM PUBLIC",
        (
            "CREATE TRIGGER app_versions_immutable BEFORE UPDATE OR DELETE ON tenantry.app_versions"
            " FOR EACH ROW EXECUTE FUNCTION tenantry_private.app_versions_immutable()"
        ),
        (
            "CREATE TRIGGER app_versions_no_truncate BEFORE TRUNCATE ON tenantry.app_versions"
            " FOR EACH STATEMENT EXECUTE FUNCTION tenantry_private.app_versions_immutable()"
        ),
        (
            "ALTER TABLE tenantry.apps ADD FOREIGN KEY (id, latest_version)"
            " REFERENCES tenantry.app_versions (catalog_app_id, version)"
        ),
        """
        CREATE TABLE tenantry.app_routes (
            catalog_app_id uuid NOT NULL,
            version text NOT NULL,
            prefix text NOT NULL CHECK (prefix ~ '^/[A-Za-z0-9._~/-]{0,199}$'),
            upstream text NOT NULL
                CHECK (upstream ~ '^https?://[^[:space:]]+$' AND length(upstream) <= 2000),
            timeout_ms integer NOT NULL DEFAULT 10000 CHECK (timeout_ms BETWEEN 100 AND 300000),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (catalog_app_id, version, prefix),
            FOREIGN KEY (catalog_app_id, version)
                REFERENCES tenantry.app_versions (catalog_app_id, version)
        )
        """,
        *catalog_grants_sql("tenantry.app_routes", roles),
        (
            "ALTER TABLE tenantry.tenant_apps ADD COLUMN status text NOT NULL DEFAULT 'enabled'"
            " CHECK (status IN ('enabled', 'disabled'))"
        ),
        "ALTER TABLE tenantry.tenant_apps ADD COLUMN pinned_version text",
        (
            "ALTER TABLE tenantry.tenant_apps ADD COLUMN config jsonb NOT NULL DEFAULT '{}'"
            " CHECK (jsonb_typeof(config) = 'object')"
        ),
        "ALTER TABLE tenantry.tenant_apps ADD COLUMN config_revision integer NOT NULL DEFAULT 0",
        "ALTER TABLE tenantry.tenant_apps ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()",
        (
            "ALTER TABLE tenantry.tenant_apps ADD FOREIGN KEY (app_id, pinned_version)"
            " REFERENCES tenantry.app_versions (catalog_app_id, version)"
        ),
        "CREATE INDEX ON tenantry.tenant_apps (app_id, pinned_version)",
        *scoped_table_sql(TENANT_APP_HISTORY, roles),
    ]
    for statement in statements:
        op.execute(statement)
    _publish_seeds()


def _publish_seeds() -> None:
    bind = op.get_bind()
    folder = resources.files("tenantry.registry") / "manifests"
    for slug in SEED_SLUGS:
        manifest = json.loads((folder / f"{slug}.json").read_text(encoding="utf-8"))
        assert manifest["slug"] == slug
        assert manifest["version"] == SEED_VERSION
        digest = hashlib.sha256(canonical_json(manifest)).digest()
        app_id = bind.exec_driver_sql(
            "SELECT id FROM tenantry.apps WHERE slug = %s", (slug,)
        ).scalar_one()
        bind.exec_driver_sql(
            "INSERT INTO tenantry.app_versions (catalog_app_id, version, manifest, manifest_hash,"
            " min_platform_version, published_by) VALUES (%s, %s, %s, %s, %s, 'migration:0015')",
            (
                app_id,
                SEED_VERSION,
                json.dumps(manifest),
                digest,
                manifest["min_platform_version"],
            ),
        )
        bind.exec_driver_sql(
            "UPDATE tenantry.apps SET vendor = %s, latest_version = %s, manifest_hash = %s"
            " WHERE id = %s",
            (manifest["vendor"], SEED_VERSION, digest, app_id),
        )
        for privilege in manifest["privileges"]:
            bind.exec_driver_sql(
                "INSERT INTO tenantry.privileges (key, description, owner_app_id)"
                " VALUES (%s, %s, %s)",
                (privilege["key"], privilege["description"], app_id),
            )


def downgrade() -> None:
    op.execute(f"DROP TABLE {TENANT_APP_HISTORY.qualified}")
    op.execute(
        "DELETE FROM tenantry.scoped_tables "
        f"WHERE table_schema = 'tenantry' AND table_name = '{TENANT_APP_HISTORY.name}'"
    )
    # App privileges go with the registry; grants of them in roles cascade.
    op.execute("DELETE FROM tenantry.privileges WHERE owner_app_id IS NOT NULL")
    for column in ("updated_at", "config_revision", "config", "pinned_version", "status"):
        op.execute(f"ALTER TABLE tenantry.tenant_apps DROP COLUMN {column}")
    op.execute("DROP TABLE tenantry.app_routes")
    for column in ("manifest_hash", "latest_version", "vendor"):
        op.execute(f"ALTER TABLE tenantry.apps DROP COLUMN {column} CASCADE")
    op.execute("DROP TABLE tenantry.app_versions")
    op.execute("DROP FUNCTION tenantry_private.app_versions_immutable()")
