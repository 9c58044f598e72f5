"""Login throttle counters in `tenantry_private` (platform path only): keys are hashes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenantry.kit.db import Transaction


async def seconds_locked(tx: Transaction, keys: list[bytes]) -> int:
    """How long the longest lock among `keys` still runs; 0 if none is locked."""
    row = await tx.fetch_one(
        """SELECT ceil(extract(epoch FROM max(locked_until) - now()))::int AS wait
             FROM tenantry_private.login_throttle
            WHERE key = ANY(%s) AND locked_until > now()""",
        [keys],
    )
    return int(row["wait"]) if row and row["wait"] else 0


async def count_failure(tx: Transaction, key: bytes, window_seconds: int) -> int:
    """Count one failure in the key's current window (a new window once it has passed)."""
    row = await tx.fetch_one(
        """INSERT INTO tenantry_private.login_throttle AS t (key, failures)
           VALUES (%(key)s, 1)
           ON CONFLICT (key) DO UPDATE SET
               failures = CASE WHEN t.window_started_at
                                   < EXCLUDED.window_started_at - make_interval(secs => %(window)s)
                               THEN 1 ELSE t.failures + 1 END,
               window_started_at = CASE WHEN t.window_started_at
                                   < EXCLUDED.window_started_at - make_interval(secs => %(window)s)
                               THEN EXCLUDED.window_started_at ELSE t.window_started_at END
           RETURNING failures""",
        {"key": key, "window": window_seconds},
    )
    assert row is not None
    return int(row["failures"])


async def lock(tx: Transaction, key: bytes, seconds: int) -> None:
    await tx.execute(
        """UPDATE tenantry_private.login_throttle
              SET locked_until = now() + make_interval(secs => %s)
            WHERE key = %s""",
        [seconds, key],
    )


async def forget(tx: Transaction, key: bytes) -> None:
    await tx.execute("DELETE FROM tenantry_private.login_throttle WHERE key = %s", [key])
