"""The placement registry, and the copies of the global catalogs every placement holds.

A silo holds the tenants that live there and, as reference data, the catalogs every tenant row
may point at (apps and their versions and routes, feature flags, privileges and role templates,
event types, licence keys, the placements themselves). `sync` brings a silo's copies to what
the home database has; adding a placement and every move sync first.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tenantry.kit.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from tenantry.kit.migrate import current_revision
from tenantry.kit.placements import SHARED, placement_url
from tenantry.placements.repository import registry, rows

if TYPE_CHECKING:
    from tenantry.kit.db import Database
    from tenantry.placements.repository.registry import Placement
    from tenantry.placements.repository.rows import Table

NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class Placements:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self) -> list[Placement]:
        async with self._db.platform_transaction() as tx:
            return await registry.placements(tx)

    async def add(self, name: str, url: str) -> None:
        """Register a migrated database as a placement and copy the catalogs into it."""
        if not NAME.match(name):
            raise InvalidInput("a placement name is lower-case letters, digits and dashes")
        url = placement_url(url)
        async with self._db.platform_transaction() as tx:
            if name in {p.name for p in await registry.placements(tx)}:
                raise Conflict(f"a placement named {name!r} exists")
            await registry.add_placement(tx, name, url)
        self._db.placements.invalidate("placements")
        try:
            await self.check(name)
            await self.sync(name)
        except Exception:
            async with self._db.platform_transaction() as tx:
                await registry.remove_placement(tx, name)
            raise

    async def remove(self, name: str) -> None:
        if name == SHARED:
            raise InvalidInput("the shared placement is the home database")
        async with self._db.platform_transaction() as tx:
            found = {p.name: p for p in await registry.placements(tx)}.get(name)
            if found is None:
                raise NotFound(f"no placement {name!r}")
            if found.tenants:
                raise Conflict(f"{found.tenants} tenants live in {name}: move them first")
            await registry.remove_placement(tx, name)
        self._db.placements.invalidate("placements")

    async def check(self, name: str) -> None:
        """The placement answers and stands at the home database's revision."""
        async with self._db.platform_transaction() as tx:
            home = await current_revision(tx)
        async with self._db.platform_transaction(placement=name) as tx:
            theirs = await current_revision(tx)
        if theirs != home:
            raise Conflict(
                f"{name} is at revision {theirs}, the home database at {home}:"
                " run `tenantry db upgrade --all`"
            )

    async def sync(self, name: str | None = None) -> dict[str, int]:
        """Each silo's (or one's) copies of the catalogs made equal to the home database's:
        rows changed per placement."""
        async with self._db.platform_transaction(snapshot=True) as tx:
            tables = await rows.catalog_tables(tx)
            content = {t.qualified: await registry.catalog_lines(tx, t) for t in tables}
            silos = [p.name for p in await registry.placements(tx) if p.name != SHARED]
        order = _order(tables)
        changed: dict[str, int] = {}
        for silo in [name] if name else silos:
            async with self._db.platform_transaction(placement=silo) as tx:
                await registry.lock_catalogs(tx)  # one sync at a time, whichever process
                count = 0
                for table, deferred in order:
                    lines = content[table.qualified]
                    count += await registry.upsert_catalog(tx, table, lines, deferred)
                for table, deferred in order:
                    if deferred:
                        await registry.upsert_catalog(tx, table, content[table.qualified])
                for table, _ in reversed(order):
                    count += await registry.delete_missing(tx, table, content[table.qualified])
            changed[silo] = count
        return changed


def _order(tables: list[Table]) -> list[tuple[Table, frozenset[str]]]:
    """The catalogs in an order their rows can be written in, each with the columns to fill in
    afterwards: a cycle of foreign keys (an app names its latest version, a version its app) is
    broken at a nullable column."""
    placed: set[tuple[str, str]] = set()
    pending, ordered = list(tables), []
    while pending:
        for table in pending:
            waiting = [
                (columns, parent)
                for columns, parent in table.references
                if parent not in placed and parent != table.qualified
            ]
            if not waiting:
                break
        else:  # every table waits for another: defer the first nullable pointer found
            for table in pending:
                waiting = [
                    (columns, parent)
                    for columns, parent in table.references
                    if parent not in placed and parent != table.qualified
                ]
                # A foreign key with a NULL column is not checked (MATCH SIMPLE).
                if all(set(columns) - table.required for columns, _ in waiting):
                    break
            else:
                raise ConfigurationError("the catalogs' foreign keys form a cycle of NOT NULLs")
        deferred = frozenset(c for columns, _ in waiting for c in columns) - table.required
        ordered.append((table, deferred))
        placed.add(table.qualified)
        pending.remove(table)
    return ordered
