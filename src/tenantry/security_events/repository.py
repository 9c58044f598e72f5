"""SQL for security events (append-only for the runtime role)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from tenantry.kit.db import Transaction


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    id: UUID
    tenant_id: UUID
    app_id: UUID | None
    app_user_id: UUID | None
    kind: str
    severity: str
    ip: str | None
    request_id: str | None
    detail: dict[str, Any]
    created_at: datetime


_COLUMNS = "id, tenant_id, app_id, app_user_id, kind, severity, ip, request_id, detail, created_at"


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
    tenant_id: UUID,
    *,
    kind: str | None,
    app_id: UUID | None,
    since: datetime | None,
    until: datetime | None,
    before_id: UUID | None,
    limit: int,
) -> list[SecurityEvent]:
    rows = await tx.fetch_all(
        f"""SELECT {_COLUMNS} FROM tenantry.security_events
             WHERE tenant_id = %(tenant)s
               AND (%(kind)s::text IS NULL OR kind = %(kind)s)
               AND (%(app)s::uuid IS NULL OR app_id = %(app)s)
               AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
               AND (%(until)s::timestamptz IS NULL OR created_at < %(until)s)
               AND (%(before)s::uuid IS NULL OR id < %(before)s)
             ORDER BY id DESC
             LIMIT %(limit)s""",
        {
            "tenant": tenant_id,
            "kind": kind,
            "app": app_id,
            "since": since,
            "until": until,
            "before": before_id,
            "limit": limit,
        },
    )
    return [SecurityEvent(**row) for row in rows]
