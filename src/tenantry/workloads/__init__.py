"""Tenantry's AI workloads, built on the public library API (`tenantry.library`) alone.

Chats and messages, meetings, widgets, personalities, preferences, memories and feedback
(`conversations`), knowledge documents with hybrid search (`knowledge`), and cost events, daily
summaries, budgets and alerts (`costs`). Installed as the `workloads` module (the
`tenantry.modules` entry point): its tables live in the `ai` schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tenantry.library import Maintenance, Module

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fastapi import APIRouter

    from tenantry.library import Database


def _routers() -> Sequence[APIRouter]:
    from tenantry.workloads.conversations import http as conversations  # noqa: PLC0415 - routers load when an app is built, not on import
    from tenantry.workloads.costs import http as costs  # noqa: PLC0415 - as above
    from tenantry.workloads.knowledge import http as knowledge  # noqa: PLC0415 - as above

    return (conversations.router, knowledge.router, costs.router)


def _admin_routers() -> Sequence[APIRouter]:
    from tenantry.workloads.costs import admin as costs  # noqa: PLC0415 - as above

    return (costs.router,)


async def _seed_demo(db: Database) -> dict[str, int]:
    """Demo chats, a small knowledge base and a month of costs for the demo tenants."""
    from tenantry.workloads.conversations import demo as conversations  # noqa: PLC0415 - as above
    from tenantry.workloads.costs import demo as costs  # noqa: PLC0415 - as above
    from tenantry.workloads.knowledge import demo as knowledge  # noqa: PLC0415 - as above

    added: dict[str, int] = {}
    for area in (conversations, knowledge, costs):
        added |= await area.seed_demo(db)
    return added


async def _maintain(maintenance: Maintenance) -> dict[str, int]:
    from tenantry.workloads.knowledge.maintenance import maintain_scope_indexes  # noqa: PLC0415 - as above

    return await maintain_scope_indexes(maintenance)


MODULE = Module(
    name="workloads",
    migrations=Path(__file__).parent / "migrations",
    routers=_routers,
    admin_routers=_admin_routers,
    tenant_pages=(("AI costs", "ai-costs"),),
    seed_demo=_seed_demo,
    maintain=_maintain,
)
