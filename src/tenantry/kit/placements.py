"""Where each tenant lives: the shared database or a silo, and a pair of pools per silo.

The home database is the registry (`tenantry.placements`, `tenants.placement`, revision 0024).
A process keeps the few tenants that live outside `shared` in memory and reads them again when
a move notifies `placements`, when a write meets a tenant that moved (`Database` reloads and
the caller retries), and at least every `REFRESH_SECONDS`. A silo is reached with the same
roles and passwords as the home database, at the placement's host, port and database name.
Its pools open on first use, stay small, and close after `IDLE_SECONDS` without use: a thousand
silos do not hold a thousand connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import conninfo

from tenantry.kit.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from uuid import UUID

    from psycopg_pool import AsyncConnectionPool

    from tenantry.kit.context import ContextSigner

log = logging.getLogger("tenantry.placements")
SHARED = "shared"
# Notified by a move's switch: every process reloads where tenants live.
PLACEMENTS_SCOPE = "placements"
IDLE_SECONDS = 300.0
# A process reads the registry again at least this often, whether or not it heard a move's
# notification; a move deletes the tenant's old copy only after this long.
REFRESH_SECONDS = 2.0
# Connection settings a placement's URL may carry; credentials come from the roles' URLs.
PLACEMENT_KEYS = frozenset({"host", "hostaddr", "port", "dbname", "sslmode", "sslrootcert"})

LOAD_TENANTS = "SELECT id, placement FROM tenantry.tenants WHERE placement <> 'shared'"
LOAD_PLACEMENTS = "SELECT name, url FROM tenantry.placements WHERE name <> 'shared'"


def placement_url(url: str) -> str:
    """A placement's URL, checked: where the database is, never who logs in."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigurationError(f"not a PostgreSQL URL: {exc}") from None
    extra = sorted(set(params) - PLACEMENT_KEYS)
    if extra:
        raise ConfigurationError(
            f"a placement URL names only where the database is (host, port, dbname, sslmode);"
            f" remove {', '.join(extra)}: Tenantry logs in with its own roles"
        )
    if not params.get("dbname"):
        raise ConfigurationError("a placement URL must name its database")
    return conninfo.make_conninfo("", **{k: str(v) for k, v in params.items()})


def relocated(role_url: str, url: str) -> str:
    """`role_url` (a role's login) pointed at the placement `url`."""
    params = conninfo.conninfo_to_dict(role_url)
    for key in PLACEMENT_KEYS:
        params.pop(key, None)
    params.update(conninfo.conninfo_to_dict(url))
    return conninfo.make_conninfo("", **{k: str(v) for k, v in params.items() if v is not None})


@dataclass
class Silo:
    runtime: AsyncConnectionPool[Any]
    platform: AsyncConnectionPool[Any]
    used: float
    # Each database verifies contexts with its own keys (`tenantry_private.context_keys`).
    signer: ContextSigner = field(init=False)


class PlacementRouter:
    """Tenant -> placement -> pools. `shared` is the home database's own pools."""

    def __init__(
        self,
        registry: Callable[[], Awaitable[tuple[list[Any], list[Any]]]],
        runtime_url: str,
        platform_url: str,
        make_pool: Callable[[str, str], AsyncConnectionPool[Any]],
        load_signer: Callable[[AsyncConnectionPool[Any]], Awaitable[ContextSigner]],
    ) -> None:
        self._registry = registry
        self._load_signer = load_signer
        self._runtime_url = runtime_url
        self._platform_url = platform_url
        self._make_pool = make_pool
        self._where: dict[UUID, str] = {}
        self._urls: dict[str, str] = {}
        self._silos: dict[str, Silo] = {}
        self._stale = True
        self._loaded = 0.0
        self._refresh: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._opening = asyncio.Lock()

    @property
    def has_silos(self) -> bool:
        return bool(self._urls)

    def invalidate(self, scope: str) -> None:
        if scope in {PLACEMENTS_SCOPE, "*"}:
            self._stale = True

    async def _load(self) -> None:
        loaded = time.monotonic()
        where, urls = await self._registry()
        self._loaded = loaded
        self._where = {r["id"]: r["placement"] for r in where}
        self._urls = {r["name"]: r["url"] for r in urls}
        self._stale = False
        for name in set(self._silos) - set(self._urls):
            await self._close(name)

    async def _fresh(self) -> None:
        """Told of a change (or never loaded): read the registry before routing. Merely old:
        route with what is known and read it again beside, so a request never waits for the
        home database it may not need (during an outage it answers as fast as before)."""
        if self._stale:
            async with self._lock:
                if self._stale:
                    await self._load()
        elif time.monotonic() - self._loaded > REFRESH_SECONDS and self._refresh is None:
            self._refresh = asyncio.create_task(self._reload())

    async def _reload(self) -> None:
        try:
            async with self._lock:
                await self._load()
        except Exception:  # the next request tries again; routing goes on meanwhile
            log.debug("placement registry unreadable", exc_info=True)
            self._loaded = time.monotonic()
        finally:
            self._refresh = None

    async def placement(self, tenant_id: UUID) -> str:
        await self._fresh()
        return self._where.get(tenant_id, SHARED)

    async def pools(self, name: str) -> Silo:
        """The silo's pools, opened on first use; pools idle for long are closed."""
        await self._fresh()
        now = time.monotonic()
        silo = self._silos.get(name)
        if silo is None:
            async with self._opening:  # two first requests open one pair of pools
                silo = self._silos.get(name) or await self._open(name, now)
        silo.used = now
        for other, idle in list(self._silos.items()):
            if now - idle.used > IDLE_SECONDS:
                await self._close(other)
        return silo

    async def _open(self, name: str, now: float) -> Silo:
        url = self._urls.get(name)
        if url is None:
            raise ConfigurationError(f"no placement named {name!r}")
        silo = Silo(
            self._make_pool(relocated(self._runtime_url, url), f"runtime-{name}"),
            self._make_pool(relocated(self._platform_url, url), f"platform-{name}"),
            now,
        )
        await silo.runtime.open(wait=False)
        await silo.platform.open(wait=False)
        try:
            silo.signer = await self._load_signer(silo.platform)
        except BaseException:
            await silo.runtime.close()
            await silo.platform.close()
            raise
        self._silos[name] = silo
        return silo

    async def reload_signers(self) -> None:
        """Keys rotated: each open silo's newest key is read again."""
        for silo in list(self._silos.values()):
            silo.signer = await self._load_signer(silo.platform)

    async def names(self) -> list[str]:
        """Every placement: `shared` first, then each silo."""
        await self._fresh()
        return [SHARED, *sorted(self._urls)]

    async def _close(self, name: str) -> None:
        silo = self._silos.pop(name)
        await silo.runtime.close()
        await silo.platform.close()

    async def close(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
        for name in list(self._silos):
            await self._close(name)
