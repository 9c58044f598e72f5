"""The app registry: publishing versioned manifests, the gateway's routes, and the route table
the gateway reads on every forwarded request (cached, dropped on invalidation)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tenantry.kit.errors import Conflict, NotFound
from tenantry.kit.ids import uuid7
from tenantry.kit.invalidation import EVERYTHING, notify_in
from tenantry.registry import manifest as manifests
from tenantry.registry.models import (
    InvalidRoute,
    Publication,
    Route,
    Upstream,
    VersionImmutable,
)
from tenantry.registry.repository import catalog, tenant_apps

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.apps.service import AppDirectory
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction
    from tenantry.registry.models import AppSummary, AppVersion

MAX_TIMEOUT_MS = 300_000
MIN_TIMEOUT_MS = 100


# (transaction, app id, version, manifest), called when a version becomes the latest.
PublishedHook = Callable[["Transaction", "UUID", str, dict[str, Any]], Awaitable[None]]


class PrivilegeTaken(Conflict):
    code = "privilege_taken"


class AppRegistry:
    def __init__(
        self, db: Database, apps: AppDirectory, on_published: PublishedHook | None = None
    ) -> None:
        self._db = db
        self._apps = apps
        # Features above the registry (event types) learn of the latest version in the
        # publishing transaction, so the catalog and what they derive from it commit together.
        self._on_published = on_published
        # (tenant, app) → (status, effective version); (app, version) → routes, longest first.
        self._effective: dict[tuple[UUID, UUID], tuple[str, str | None] | None] = {}
        self._routes: dict[tuple[UUID, str], list[Route]] = {}
        self._routed: set[UUID] | None = None
        # Bumped by every invalidation, so a load that raced with a write is not cached.
        self._generation = 0

    # -- the catalog ----------------------------------------------------------------------

    async def publish(self, document: object, *, by: Actor) -> Publication:
        """Store a manifest as its version. The same version again with the same hash is
        `unchanged`; with another hash it is refused (`version_immutable`). `latest_version`
        is always the highest semantic version, so a backport does not move it."""
        manifest = manifests.validate_manifest(document)
        digest = manifests.manifest_hash(manifest)
        created = False
        async with self._db.platform_transaction() as tx:
            app = await catalog.app_by_slug(tx, manifest["slug"], lock=True)
            if app is None:
                app_id, created = uuid7(), True
                await catalog.create_app(
                    tx,
                    app_id,
                    manifest["slug"],
                    manifest["name"],
                    manifest["description"],
                    manifest["vendor"],
                )
            else:
                app_id = app.id
            existing = await catalog.version(tx, app_id, manifest["version"])
            if existing is not None:
                if existing.manifest_hash != digest:
                    raise VersionImmutable(
                        f"{manifest['slug']} {manifest['version']} is already published with "
                        "another manifest; publish a new version"
                    )
                latest = app.latest_version if app else None
                return Publication(existing, "unchanged", latest or existing.version)
            await catalog.insert_version(tx, app_id, manifest, digest, str(by))
            taken = await catalog.register_privileges(tx, app_id, manifest["privileges"])
            if taken:
                raise PrivilegeTaken(
                    f"privilege {taken[0]!r} belongs to the platform or another app"
                )
            latest = manifests.highest(await catalog.version_numbers(tx, app_id))
            if latest == manifest["version"]:
                await catalog.set_latest(tx, app_id, latest, digest, manifest)
                if self._on_published is not None:
                    await self._on_published(tx, app_id, latest, manifest)
            stored = await catalog.version(tx, app_id, manifest["version"])
            await notify_in(tx, EVERYTHING)
        if created:
            await self._apps.reload()
        assert stored is not None
        return Publication(stored, "published", latest)

    async def apps(self) -> list[AppSummary]:
        async with self._db.platform_transaction() as tx:
            return await catalog.all_apps(tx)

    async def app(self, slug: str) -> AppSummary:
        async with self._db.platform_transaction() as tx:
            return await self._app(tx, slug)

    async def versions(self, slug: str) -> list[AppVersion]:
        """Every published version, the highest first."""
        async with self._db.platform_transaction() as tx:
            app = await self._app(tx, slug)
            found = await catalog.versions(tx, app.id)
        return sorted(found, key=lambda v: manifests.semver_key(v.version), reverse=True)

    async def version(self, slug: str, number: str | None = None) -> AppVersion:
        """One version, or the latest when `number` is None."""
        async with self._db.platform_transaction() as tx:
            app = await self._app(tx, slug)
            number = number or app.latest_version
            found = await catalog.version(tx, app.id, number) if number else None
        if found is None:
            raise NotFound(f"no version {number!r} of {slug}")
        return found

    @staticmethod
    async def _app(tx: Transaction, slug: str) -> AppSummary:
        app = await catalog.app_by_slug(tx, slug)
        if app is None:
            raise NotFound(f"no app {slug!r}")
        return app

    # -- routes -----------------------------------------------------------------------------

    async def set_route(
        self, slug: str, number: str, prefix: str, upstream: str, timeout_ms: int = 10_000
    ) -> Route:
        """Point a prefix the version's manifest declares at the operator's upstream."""
        route = Route(number, prefix, upstream, timeout_ms)
        _check_route(route)
        async with self._db.platform_transaction() as tx:
            app = await self._app(tx, slug)
            found = await catalog.version(tx, app.id, number)
            if found is None:
                raise NotFound(f"no version {number!r} of {slug}")
            declared = {r["prefix"] for r in found.manifest.get("routes", [])}
            if prefix not in declared:
                raise InvalidRoute(
                    f"{slug} {number} declares no route {prefix!r} (declared: "
                    f"{', '.join(sorted(declared)) or 'none'})"
                )
            await catalog.put_route(tx, app.id, route)
            await notify_in(tx, EVERYTHING)
        return route

    async def delete_route(self, slug: str, number: str, prefix: str) -> None:
        async with self._db.platform_transaction() as tx:
            app = await self._app(tx, slug)
            if not await catalog.delete_route(tx, app.id, number, prefix):
                raise NotFound(f"no route {prefix!r} for {slug} {number}")
            await notify_in(tx, EVERYTHING)

    async def routes(self, slug: str, number: str | None = None) -> list[Route]:
        async with self._db.platform_transaction() as tx:
            app = await self._app(tx, slug)
            return await catalog.routes(tx, app.id, number)

    # -- the route table the gateway reads --------------------------------------------------

    async def routes_anything(self, app_id: UUID) -> bool:
        """Whether any version of the app has a gateway route (cached like the routes)."""
        routed = self._routed
        if routed is None:
            generation = self._generation
            async with self._db.platform_transaction() as tx:
                routed = await catalog.routed_apps(tx)
            if generation == self._generation:
                self._routed = routed
        return app_id in routed

    async def upstream_for(self, tenant_id: UUID, app_id: UUID, path: str) -> Upstream | None:
        """The upstream serving `path` (below /v1/apps/{app}) for the tenant's effective
        version (pinned, else latest) and the longest matching prefix; None when the tenant
        has not enabled the app, or no route of that version matches."""
        path = path if path.startswith("/") else f"/{path}"
        key = (tenant_id, app_id)
        generation = self._generation
        if key in self._effective:
            effective = self._effective[key]
        else:
            async with self._db.platform_transaction(tenant_id=tenant_id) as tx:  # its own row
                effective = await tenant_apps.effective(tx, tenant_id, app_id)
            if generation == self._generation:
                self._effective[key] = effective
        if effective is None or effective[0] != "enabled" or effective[1] is None:
            return None
        version = effective[1]
        table = self._routes.get((app_id, version))
        if table is None:
            async with self._db.platform_transaction() as tx:
                loaded = await catalog.routes(tx, app_id, version)
            table = sorted(loaded, key=lambda r: len(r.prefix), reverse=True)
            if generation == self._generation:
                self._routes[(app_id, version)] = table
        for route in table:
            if _under(path, route.prefix):
                return Upstream(route.version, route.prefix, route.upstream, route.timeout_ms)
        return None

    def invalidate(self, scope: str) -> None:
        """An invalidation message: a tenant id (its pins), or `*` (versions, routes)."""
        self._generation += 1
        if scope == EVERYTHING:
            self._effective.clear()
            self._routes.clear()
            self._routed = None
            return
        for key in [k for k in self._effective if str(k[0]) == scope]:
            self._effective.pop(key, None)


def _under(path: str, prefix: str) -> bool:
    base = prefix.rstrip("/")
    return not base or path == base or path.startswith(f"{base}/")


def _check_route(route: Route) -> None:
    if not route.prefix.startswith("/"):
        raise InvalidRoute("a route prefix starts with '/'")
    if not route.upstream.startswith(("http://", "https://")) or any(
        c.isspace() for c in route.upstream
    ):
        raise InvalidRoute("an upstream is an http:// or https:// base URL")
    if not MIN_TIMEOUT_MS <= route.timeout_ms <= MAX_TIMEOUT_MS:
        raise InvalidRoute(f"timeout_ms must be between {MIN_TIMEOUT_MS} and {MAX_TIMEOUT_MS}")
    if len(route.upstream) > 2000:  # noqa: PLR2004 - the column's limit
        raise InvalidRoute("an upstream URL is at most 2000 characters")
