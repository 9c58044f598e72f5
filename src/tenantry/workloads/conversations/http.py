"""The conversations API: every route under `/v1/apps/{app}/…` (docs/conversations.md)."""

from __future__ import annotations

from fastapi import APIRouter

from tenantry.workloads.conversations.api import (
    chats,
    meetings,
    messages,
    personal,
    personalities,
    widgets,
)

router = APIRouter(tags=["conversations"])
for _included in (
    chats.router,
    messages.router,
    meetings.router,
    personalities.router,
    personalities.manage_router,
    widgets.router,
    personal.router,
):
    router.include_router(_included)
