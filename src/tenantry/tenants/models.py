"""Tenants as each side sees them: the control plane's full record, the request path's
cached view of who may be served."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID


@dataclass(frozen=True, slots=True)
class TenantRecord:
    """A tenant on the control plane (provisioning, lifecycle, settings, flags, domains)."""

    id: UUID
    slug: str
    name: str
    status: str
    plan: str
    created_at: datetime
    updated_at: datetime
    deprovisioned_at: datetime | None
    purge_after: datetime | None


@dataclass(frozen=True, slots=True)
class TenantInfo:
    """A tenant on the request path: enough to decide whether it serves an app."""

    id: UUID
    slug: str
    status: str
    # Enabled apps only: a disabled app is served nowhere.
    app_ids: frozenset[UUID]
    # Apps the tenant has but disabled (their data kept): refused as `app_disabled`, not 404.
    disabled_app_ids: frozenset[UUID] = frozenset()
    # Its plan: the quotas it is served with (`limits`).
    plan: str = "free"
    # The database its rows live in (`placements`).
    placement: str = "shared"
