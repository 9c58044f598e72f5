"""Installed modules: packages that add tables, API routes, admin pages and demo data.

A package names a `Module` under the `tenantry.modules` entry-point group, e.g. in its
`pyproject.toml`:

    [project.entry-points."tenantry.modules"]
    notes = "notes:MODULE"

`tenantry db upgrade` runs each module's migrations after Tenantry's own (its version table is
`tenantry_private.alembic_version_<name>`), the API includes its routers, the admin UI its pages
and `tenantry db seed-demo` calls its demo seeder. Modules reach Tenantry through
`tenantry.library` only, the same API any outside team uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from tenantry.kit.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from pathlib import Path

    import psycopg

    from tenantry.kit.db import Database

ENTRY_POINT_GROUP = "tenantry.modules"
# The name is part of the version table's name (`alembic_version_<name>`).
MODULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True, slots=True)
class Maintenance:
    """What `tenantry db maintain` hands a module's maintenance."""

    # The service's database: `platform_transaction()` reads across tenants.
    database: Database
    # A connection acting as the schema owner, in autocommit: DDL the service's roles may not
    # run, such as `CREATE INDEX CONCURRENTLY`.
    owner: psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    # A folder with the module's Alembic `env.py` and `versions/`.
    migrations: Path | None = None
    # API routers (`fastapi.APIRouter`), included after Tenantry's own; admin routers are
    # included under the admin UI's session and CSRF protection.
    routers: Callable[[], Sequence[Any]] = field(default=tuple)
    admin_routers: Callable[[], Sequence[Any]] = field(default=tuple)
    # Pages of its admin routers linked from each tenant's page: (label, path under
    # /admin/tenants/{slug}/).
    tenant_pages: Sequence[tuple[str, str]] = ()
    # Called by `tenantry db seed-demo` with the open `Database` after Tenantry's own demo
    # data exists; returns counts of what it added.
    seed_demo: Callable[[Any], Awaitable[dict[str, int]]] | None = None
    # Called by `tenantry db maintain`; returns counts of what it did.
    maintain: Callable[[Maintenance], Awaitable[dict[str, int]]] | None = None

    def __post_init__(self) -> None:
        if not MODULE_NAME.match(self.name):
            raise ConfigurationError(
                f"module name {self.name!r}: lowercase letters, digits and _ (at most 40)"
            )

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.name}"


@cache
def installed_modules() -> tuple[Module, ...]:
    found = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        module = entry.load()
        if not isinstance(module, Module):
            raise ConfigurationError(f"entry point {entry.name} is not a tenantry Module")
        found.append(module)
    return tuple(sorted(found, key=lambda module: module.name))
