"""SQL for the registry's global catalogs: apps, their immutable versions and gateway routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from tenantry.registry.models import AppSummary, AppVersion, Route

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction

_APP = """SELECT id, slug, name, vendor, status, description, latest_version, manifest_hash
            FROM tenantry.apps"""
_VERSION = """SELECT catalog_app_id AS app_id, version, manifest, manifest_hash,
                     min_platform_version, published_at, published_by
                FROM tenantry.app_versions"""


def _app(row: dict[str, Any]) -> AppSummary:
    digest = row.pop("manifest_hash")
    return AppSummary(**row, manifest_hash=bytes(digest) if digest is not None else None)


def _version(row: dict[str, Any]) -> AppVersion:
    return AppVersion(**{**row, "manifest_hash": bytes(row["manifest_hash"])})


async def app_by_slug(tx: Transaction, slug: str, *, lock: bool = False) -> AppSummary | None:
    suffix = " FOR UPDATE" if lock else ""
    row = await tx.fetch_one(f"{_APP} WHERE slug = %s{suffix}", [slug])
    return _app(dict(row)) if row else None


async def app_by_id(tx: Transaction, app_id: UUID) -> AppSummary | None:
    row = await tx.fetch_one(f"{_APP} WHERE id = %s", [app_id])
    return _app(dict(row)) if row else None


async def all_apps(tx: Transaction) -> list[AppSummary]:
    return [_app(dict(row)) for row in await tx.fetch_all(f"{_APP} ORDER BY slug")]


async def create_app(
    tx: Transaction, app_id: UUID, slug: str, name: str, description: str, vendor: str
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.apps (id, slug, name, description, vendor)
           VALUES (%s, %s, %s, %s, %s)""",
        [app_id, slug, name, description, vendor],
    )


async def version(tx: Transaction, app_id: UUID, number: str) -> AppVersion | None:
    row = await tx.fetch_one(
        f"{_VERSION} WHERE catalog_app_id = %s AND version = %s", [app_id, number]
    )
    return _version(dict(row)) if row else None


async def versions(tx: Transaction, app_id: UUID) -> list[AppVersion]:
    rows = await tx.fetch_all(f"{_VERSION} WHERE catalog_app_id = %s", [app_id])
    return [_version(dict(row)) for row in rows]


async def version_numbers(tx: Transaction, app_id: UUID) -> list[str]:
    rows = await tx.fetch_all(
        "SELECT version FROM tenantry.app_versions WHERE catalog_app_id = %s", [app_id]
    )
    return [row["version"] for row in rows]


async def insert_version(
    tx: Transaction, app_id: UUID, manifest: dict[str, Any], digest: bytes, by: str
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.app_versions
               (catalog_app_id, version, manifest, manifest_hash, min_platform_version,
                published_by)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        [
            app_id,
            manifest["version"],
            Jsonb(manifest),
            digest,
            manifest["min_platform_version"],
            by,
        ],
    )


async def set_latest(
    tx: Transaction, app_id: UUID, latest: str, digest: bytes, manifest: dict[str, Any]
) -> None:
    """The app's row follows its highest version: vendor, name, description and hash."""
    await tx.execute(
        """UPDATE tenantry.apps
              SET latest_version = %s, manifest_hash = %s, vendor = %s, name = %s,
                  description = %s
            WHERE id = %s""",
        [latest, digest, manifest["vendor"], manifest["name"], manifest["description"], app_id],
    )


async def register_privileges(
    tx: Transaction, app_id: UUID, privileges: list[dict[str, str]]
) -> list[str]:
    """Insert or re-describe the app's privileges; returns the keys some other owner (the
    platform or another app) already holds, which are left alone."""
    refused: list[str] = []
    for privilege in privileges:
        row = await tx.fetch_one(
            """INSERT INTO tenantry.privileges AS p (key, description, owner_app_id)
               VALUES (%s, %s, %s)
               ON CONFLICT (key) DO UPDATE SET description = EXCLUDED.description
                WHERE p.owner_app_id IS NOT DISTINCT FROM EXCLUDED.owner_app_id
               RETURNING key""",
            [privilege["key"], privilege["description"], app_id],
        )
        if row is None:
            refused.append(privilege["key"])
    return refused


async def put_route(tx: Transaction, app_id: UUID, route: Route) -> None:
    await tx.execute(
        """INSERT INTO tenantry.app_routes (catalog_app_id, version, prefix, upstream, timeout_ms)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (catalog_app_id, version, prefix) DO UPDATE
              SET upstream = EXCLUDED.upstream, timeout_ms = EXCLUDED.timeout_ms,
                  updated_at = EXCLUDED.updated_at""",
        [app_id, route.version, route.prefix, route.upstream, route.timeout_ms],
    )


async def delete_route(tx: Transaction, app_id: UUID, number: str, prefix: str) -> bool:
    cursor = await tx.execute(
        """DELETE FROM tenantry.app_routes
            WHERE catalog_app_id = %s AND version = %s AND prefix = %s""",
        [app_id, number, prefix],
    )
    return cursor.rowcount > 0


async def routes(tx: Transaction, app_id: UUID, number: str | None = None) -> list[Route]:
    rows = await tx.fetch_all(
        """SELECT version, prefix, upstream, timeout_ms FROM tenantry.app_routes
            WHERE catalog_app_id = %s AND (%s::text IS NULL OR version = %s)
            ORDER BY version, prefix""",
        [app_id, number, number],
    )
    return [Route(**row) for row in rows]


async def routed_apps(tx: Transaction) -> set[UUID]:
    """The apps with at least one gateway route, in any version."""
    rows = await tx.fetch_all("SELECT DISTINCT catalog_app_id FROM tenantry.app_routes", [])
    return {row["catalog_app_id"] for row in rows}
