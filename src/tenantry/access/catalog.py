"""The privileges catalog: the platform's own, and each app's, registered by the platform."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tenantry.access.models import OWNER
from tenantry.access.repository import catalog as catalog_sql
from tenantry.kit.errors import Conflict, InvalidInput, NotFound
from tenantry.kit.invalidation import EVERYTHING, notify_in

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tenantry.access.models import Privilege
    from tenantry.apps.models import App
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database

KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,4}$")


class PrivilegeCatalog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def privileges(self) -> list[Privilege]:
        async with self._db.platform_transaction() as tx:
            return await catalog_sql.list_privileges(tx)

    async def templates(self) -> dict[str, list[str]]:
        async with self._db.platform_transaction() as tx:
            return await catalog_sql.templates(tx)

    async def register(
        self,
        app: App,
        privileges: Sequence[tuple[str, str]],
        *,
        templates: Sequence[str] = (),
        by: Actor,  # noqa: ARG002 - the catalog has no history of its own yet
    ) -> list[Privilege]:
        """Register (or describe again) an app's privileges, named `<app>.<…>`. The owner
        template always holds them; `templates` lists other templates that do too."""
        for key, _ in privileges:
            if not KEY.match(key) or not key.startswith(f"{app.slug}."):
                raise InvalidInput(f"an app's privilege is named {app.slug}.<name>: {key!r}")
        async with self._db.platform_transaction() as tx:
            known = await catalog_sql.templates(tx)
            unknown = set(templates) - set(known)
            if unknown:
                raise NotFound(f"no role template(s): {', '.join(sorted(unknown))}")
            for key, description in privileges:
                exists, owner = await catalog_sql.privilege_owner(tx, key)
                if exists and owner != app.id:
                    raise Conflict(f"privilege {key!r} belongs to another app")
                await catalog_sql.register_privilege(tx, key, description, app.id)
                for template in {OWNER, *templates}:
                    await catalog_sql.add_template_privilege(tx, template, key)
            await notify_in(tx, EVERYTHING)
            return [p for p in await catalog_sql.list_privileges(tx) if p.owner_app_id == app.id]
