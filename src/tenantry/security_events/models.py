"""A recorded security event, as the API and the admin pages read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    id: UUID
    tenant_id: UUID
    tenant_slug: str
    app_id: UUID | None
    app_slug: str | None
    app_user_id: UUID | None
    kind: str
    severity: str
    ip: str | None
    request_id: str | None
    detail: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event just written, as observers of `SecurityEvents` see it (inside its transaction)."""

    tenant_id: UUID
    app_id: UUID | None
    kind: str
    severity: str
    ip: str | None
