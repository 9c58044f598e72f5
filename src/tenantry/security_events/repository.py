"""SQL for security events (append-only for the runtime role)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from tenantry.kit.ids import uuid7
from tenantry.security_events.models import SecurityEvent

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from tenantry.kit.db import Transaction


async def insert(
    tx: Transaction,
    *,
    tenant_id: UUID,
    kind: str,
    severity: str,
    app_id: UUID | None,
    app_user_id: UUID | None,
    ip: str | None,
    request_id: str | None,
    detail: dict[str, Any],
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.security_events
               (tenant_id, id, app_id, app_user_id, kind, severity, ip, request_id, detail)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        [tenant_id, uuid7(), app_id, app_user_id, kind, severity, ip, request_id, Jsonb(detail)],
    )


async def search(
    tx: Transaction,
    tenant_id: UUID | None,
    *,
    kind: str | None,
    app_id: UUID | None,
    since: datetime | None,
    until: datetime | None,
    before_id: UUID | None,
    limit: int,
    offset: int = 0,
) -> list[SecurityEvent]:
    """Events newest first, filtered; `tenant_id=None` reads every tenant (platform path only,
    a tenant context sees its own rows whatever is asked)."""
    rows = await tx.fetch_all(
        """SELECT e.id, e.tenant_id, t.slug AS tenant_slug, e.app_id, a.slug AS app_slug,
                  e.app_user_id, e.kind, e.severity, e.ip, e.request_id, e.detail, e.created_at
             FROM tenantry.security_events e
             JOIN tenantry.tenants t ON t.id = e.tenant_id
             LEFT JOIN tenantry.apps a ON a.id = e.app_id
            WHERE (%(tenant)s::uuid IS NULL OR e.tenant_id = %(tenant)s)
              AND (%(kind)s::text IS NULL OR e.kind = %(kind)s)
              AND (%(app)s::uuid IS NULL OR e.app_id = %(app)s)
              AND (%(since)s::timestamptz IS NULL OR e.created_at >= %(since)s)
              AND (%(until)s::timestamptz IS NULL OR e.created_at < %(until)s)
              AND (%(before)s::uuid IS NULL OR e.id < %(before)s)
            ORDER BY e.id DESC
            LIMIT %(limit)s OFFSET %(offset)s""",
        {
            "tenant": tenant_id,
            "kind": kind,
            "app": app_id,
            "since": since,
            "until": until,
            "before": before_id,
            "limit": limit,
            "offset": offset,
        },
    )
    return [SecurityEvent(**row) for row in rows]
