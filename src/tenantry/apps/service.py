"""The apps catalog, cached: it changes only through the control plane."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.apps import repository
from tenantry.kit.errors import NotFound

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.apps.models import App
    from tenantry.kit.db import Database, Transaction


class AppDirectory:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._by_slug: dict[str, App] = {}
        self.slugs_by_id: dict[UUID, str] = {}

    async def reload(self) -> None:
        async with self._db.platform_transaction() as tx:
            apps = await repository.list_all(tx)
        self._by_slug = {app.slug: app for app in apps}
        self.slugs_by_id = {app.id: app.slug for app in apps}

    def by_slug(self, slug: str) -> App:
        app = self._by_slug.get(slug)
        if app is None or not app.active:
            raise NotFound(f"no app {slug!r}")
        return app

    async def require_in(self, tx: Transaction, slug: str) -> App:
        """An active app read inside the caller's transaction: for writes that must see the
        catalog as it is now, not as this process cached it."""
        app = await repository.get_by_slug(tx, slug)
        if app is None or not app.active:
            raise NotFound(f"no app {slug!r}")
        return app

    def all(self) -> list[App]:
        return list(self._by_slug.values())
