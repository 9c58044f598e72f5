"""Every SQL statement of webhooks: endpoints, their sealed secrets and the attempt log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.webhooks.models import Attempt, Endpoint

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction

_ENDPOINT = (
    "id, tenant_id, url, description, event_types, status, disabled_reason, disabled_at,"
    " created_at, failing_since, consecutive_failures, last_status_code, last_attempt_at,"
    " successes, failures"
)
_ATTEMPT = (
    "id, endpoint_id, event_id, event_type, attempt, attempted_at, ok, status_code,"
    " latency_ms, error, response_excerpt"
)


def _endpoint(row: DictRow) -> Endpoint:
    return Endpoint(**row)


async def insert_endpoint(
    tx: Transaction,
    tenant_id: UUID,
    endpoint_id: UUID,
    url: str,
    description: str,
    event_types: Sequence[str],
) -> Endpoint:
    row = await tx.fetch_one(
        "INSERT INTO tenantry.webhook_endpoints (tenant_id, id, url, description, event_types)"
        f" VALUES (%s, %s, %s, %s, %s) RETURNING {_ENDPOINT}",
        (tenant_id, endpoint_id, url, description, list(event_types)),
    )
    assert row is not None
    return _endpoint(row)


async def get_endpoint(tx: Transaction, tenant_id: UUID, endpoint_id: UUID) -> Endpoint | None:
    row = await tx.fetch_one(
        f"SELECT {_ENDPOINT} FROM tenantry.webhook_endpoints WHERE tenant_id = %s AND id = %s",
        (tenant_id, endpoint_id),
    )
    return None if row is None else _endpoint(row)


async def list_endpoints(tx: Transaction, tenant_id: UUID) -> list[Endpoint]:
    rows = await tx.fetch_all(
        f"SELECT {_ENDPOINT} FROM tenantry.webhook_endpoints WHERE tenant_id = %s"
        " ORDER BY created_at, id",
        (tenant_id,),
    )
    return [_endpoint(row) for row in rows]


async def update_endpoint(
    tx: Transaction,
    tenant_id: UUID,
    endpoint_id: UUID,
    *,
    url: str | None,
    description: str | None,
    event_types: Sequence[str] | None,
) -> Endpoint | None:
    row = await tx.fetch_one(
        "UPDATE tenantry.webhook_endpoints SET url = coalesce(%s, url),"
        " description = coalesce(%s, description), event_types = coalesce(%s, event_types)"
        f" WHERE tenant_id = %s AND id = %s RETURNING {_ENDPOINT}",
        (
            url,
            description,
            None if event_types is None else list(event_types),
            tenant_id,
            endpoint_id,
        ),
    )
    return None if row is None else _endpoint(row)


async def set_status(
    tx: Transaction, tenant_id: UUID, endpoint_id: UUID, reason: str | None
) -> Endpoint | None:
    """Disable with `reason`, or enable (a fresh start: the failure streak is forgotten)."""
    row = await tx.fetch_one(
        "UPDATE tenantry.webhook_endpoints SET"
        " status = CASE WHEN %s::text IS NULL THEN 'enabled' ELSE 'disabled' END,"
        " disabled_reason = %s::text,"
        " disabled_at = CASE WHEN %s::text IS NULL THEN NULL ELSE now() END,"
        " failing_since = CASE WHEN %s::text IS NULL THEN NULL ELSE failing_since END,"
        " consecutive_failures = CASE WHEN %s::text IS NULL THEN 0 ELSE consecutive_failures END"
        f" WHERE tenant_id = %s AND id = %s RETURNING {_ENDPOINT}",
        (reason, reason, reason, reason, reason, tenant_id, endpoint_id),
    )
    return None if row is None else _endpoint(row)


async def delete_endpoint(tx: Transaction, tenant_id: UUID, endpoint_id: UUID) -> bool:
    cursor = await tx.execute(
        "DELETE FROM tenantry.webhook_endpoints WHERE tenant_id = %s AND id = %s",
        (tenant_id, endpoint_id),
    )
    return cursor.rowcount == 1


async def insert_secret(
    tx: Transaction,
    tenant_id: UUID,
    secret_id: UUID,
    endpoint_id: UUID,
    version: int,
    sealed: bytes,
) -> None:
    await tx.execute(
        "INSERT INTO tenantry.webhook_secrets (tenant_id, id, endpoint_id, version, sealed)"
        " VALUES (%s, %s, %s, %s, %s)",
        (tenant_id, secret_id, endpoint_id, version, sealed),
    )


async def retire_secrets(
    tx: Transaction, tenant_id: UUID, endpoint_id: UUID, overlap: timedelta
) -> int:
    """Give every still-valid version an expiry `overlap` from now; the next version to add."""
    await tx.execute(
        "UPDATE tenantry.webhook_secrets SET expires_at = now() + %s"
        " WHERE tenant_id = %s AND endpoint_id = %s"
        " AND (expires_at IS NULL OR expires_at > now() + %s)",
        (overlap, tenant_id, endpoint_id, overlap),
    )
    row = await tx.fetch_one(
        "SELECT coalesce(max(version), 0) + 1 AS next FROM tenantry.webhook_secrets"
        " WHERE tenant_id = %s AND endpoint_id = %s",
        (tenant_id, endpoint_id),
    )
    assert row is not None
    next_version: int = row["next"]
    return next_version


async def valid_secrets(
    tx: Transaction, tenant_id: UUID, endpoint_id: UUID
) -> list[tuple[int, bytes]]:
    """The versions that sign now, newest first."""
    rows = await tx.fetch_all(
        "SELECT version, sealed FROM tenantry.webhook_secrets"
        " WHERE tenant_id = %s AND endpoint_id = %s AND (expires_at IS NULL OR expires_at > now())"
        " ORDER BY version DESC",
        (tenant_id, endpoint_id),
    )
    return [(row["version"], bytes(row["sealed"])) for row in rows]


async def record_attempt(
    tx: Transaction,
    tenant_id: UUID,
    attempt_id: UUID,
    endpoint_id: UUID,
    *,
    event_id: UUID,
    event_type: str,
    attempt: int,
    ok: bool,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
    response_excerpt: str | None,
) -> None:
    await tx.execute(
        f"INSERT INTO tenantry.webhook_attempts (tenant_id, {_ATTEMPT})"
        " VALUES (%s, %s, %s, %s, %s, %s, now(), %s, %s, %s, %s, %s)",
        (
            tenant_id,
            attempt_id,
            endpoint_id,
            event_id,
            event_type,
            attempt,
            ok,
            status_code,
            latency_ms,
            error,
            response_excerpt,
        ),
    )


_SUCCEEDED = "successes = successes + 1, consecutive_failures = 0, failing_since = NULL"
# least() keeps the first failure's time (and takes now() over NULL).
_FAILED = """failures = failures + 1, consecutive_failures = consecutive_failures + 1,
    failing_since = least(failing_since, now())"""


async def count_outcome(
    tx: Transaction, tenant_id: UUID, endpoint_id: UUID, *, ok: bool, status_code: int | None
) -> Endpoint | None:
    """Fold one attempt into the endpoint's health, under its row lock."""
    row = await tx.fetch_one(
        "UPDATE tenantry.webhook_endpoints SET last_status_code = %s, last_attempt_at = now(), "
        + (_SUCCEEDED if ok else _FAILED)
        + f" WHERE tenant_id = %s AND id = %s RETURNING {_ENDPOINT}",
        (status_code, tenant_id, endpoint_id),
    )
    return None if row is None else _endpoint(row)


async def attempts(
    tx: Transaction,
    tenant_id: UUID,
    endpoint_id: UUID,
    *,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Attempt]:
    """Newest first; `before` is the (attempted_at, id) of the last row of the previous page."""
    rows = await tx.fetch_all(
        f"SELECT {_ATTEMPT} FROM tenantry.webhook_attempts"
        " WHERE tenant_id = %s AND endpoint_id = %s"
        " AND (%s::timestamptz IS NULL OR (attempted_at, id) < (%s, %s))"
        " ORDER BY attempted_at DESC, id DESC LIMIT %s",
        (
            tenant_id,
            endpoint_id,
            None if before is None else before[0],
            None if before is None else before[0],
            None if before is None else before[1],
            limit,
        ),
    )
    return [Attempt(**row) for row in rows]
