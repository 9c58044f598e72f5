"""Every statement of the per-tenant statement timings (`tenantry_private.query_stats`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, LiteralString

from psycopg.types.json import Jsonb

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction
    from tenantry.kit.query_stats import Shape, Totals

# Histograms add bucket by bucket (`kit.query_stats`: bucket index -> calls).
_MERGED_HISTOGRAM: LiteralString = """(
    SELECT jsonb_object_agg(bucket, calls) FROM (
        SELECT bucket, sum(calls::bigint) AS calls FROM (
            SELECT key AS bucket, value AS calls FROM jsonb_each_text(s.histogram)
            UNION ALL
            SELECT key, value FROM jsonb_each_text(excluded.histogram)
        ) AS both_sides GROUP BY bucket
    ) AS merged
)"""


async def add_shapes(tx: Transaction, shapes: Sequence[Shape]) -> None:
    await tx.execute(
        "INSERT INTO tenantry_private.query_shapes (fingerprint, keyword, statement) "
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) "
        "ON CONFLICT (fingerprint) DO NOTHING",
        [
            [s.fingerprint for s in shapes],
            [s.keyword for s in shapes],
            [s.text for s in shapes],
        ],
    )


async def add(tx: Transaction, entries: Sequence[tuple[UUID, Totals]]) -> None:
    """Add timings to the current hour's rows. Callers sort `entries` by key, so that two
    processes adding to the same rows lock them in the same order (no deadlock)."""
    await tx.execute(
        "INSERT INTO tenantry_private.query_stats AS s "
        "(tenant_id, hour, fingerprint, calls, total_seconds, histogram) "
        "SELECT u.tenant_id, date_trunc('hour', now()), u.fingerprint, u.calls, u.seconds, "
        "u.histogram FROM unnest(%s::uuid[], %s::text[], %s::bigint[], %s::float8[], "
        "%s::jsonb[]) AS u(tenant_id, fingerprint, calls, seconds, histogram) "
        "ON CONFLICT (tenant_id, hour, fingerprint) DO UPDATE "
        "SET calls = s.calls + excluded.calls, "
        "total_seconds = s.total_seconds + excluded.total_seconds, "
        f"histogram = {_MERGED_HISTOGRAM}",
        [
            [tenant_id for tenant_id, _ in entries],
            [totals.shape.fingerprint for _, totals in entries],
            [totals.calls for _, totals in entries],
            [totals.seconds for _, totals in entries],
            [Jsonb(totals.histogram) for _, totals in entries],
        ],
    )


async def forget_before(tx: Transaction, hours: int) -> None:
    await tx.execute(
        "DELETE FROM tenantry_private.query_stats "
        "WHERE hour < date_trunc('hour', now()) - make_interval(hours => %s)",
        [hours],
    )


async def of_tenant(tx: Transaction, tenant_id: UUID, hours: int) -> list[DictRow]:
    """The tenant's rows of the last `hours` hours, counted in whole hours, this one included."""
    return await tx.fetch_all(
        "SELECT s.fingerprint, s.calls, s.total_seconds, s.histogram, "
        "coalesce(q.keyword, '?') AS keyword, coalesce(q.statement, '?') AS statement "
        "FROM tenantry_private.query_stats s "
        "LEFT JOIN tenantry_private.query_shapes q ON q.fingerprint = s.fingerprint "
        "WHERE s.tenant_id = %s "
        "AND s.hour > date_trunc('hour', now()) - make_interval(hours => %s)",
        [tenant_id, hours],
    )
