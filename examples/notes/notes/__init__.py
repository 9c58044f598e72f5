"""Notes per user: a Tenantry module written the way any outside team would write one.

Installed (`pip install -e examples/notes`), its `tenantry.modules` entry point names `MODULE`:
`tenantry db upgrade` runs its migrations after Tenantry's own and `tenantry serve` serves its
routes beside Tenantry's. It imports nothing from Tenantry but `tenantry.library`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tenantry.library import Module

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fastapi import APIRouter


def _routers() -> Sequence[APIRouter]:
    from notes.http import router  # noqa: PLC0415 - routes load when an app is built

    return (router,)


MODULE = Module(name="notes", migrations=Path(__file__).parent / "migrations", routers=_routers)
