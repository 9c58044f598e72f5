"""Login throttling per account and per client address, shared by every worker via the
database. Keys are hashes, so neither emails nor addresses are stored in clear."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.identity.repository import throttle as counters
from tenantry.kit.errors import RateLimited

if TYPE_CHECKING:
    from tenantry.kit.db import Database

# A client address fails for many accounts (NAT, offices), so it gets more room.
IP_FACTOR = 5
MAX_DELAY_SECONDS = 60


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free_failures: int
    lockout_failures: int
    window_seconds: int
    lockout_seconds: int


def throttle_key(kind: str, *parts: str) -> bytes:
    return hashlib.sha256("\x1f".join((kind, *parts)).encode()).digest()


class LoginThrottle:
    def __init__(self, db: Database, policy: ThrottlePolicy) -> None:
        self._db = db
        self._policy = policy

    async def check(self, account: bytes, ip: bytes) -> None:
        async with self._db.platform_transaction() as tx:
            wait = await counters.seconds_locked(tx, [account, ip])
        if wait:
            raise RateLimited("too many failed attempts; try again later", max(1, wait))

    async def failed(self, account: bytes, ip: bytes) -> bool:
        """Count a failure; returns True when the account is now locked out. Its own
        transaction, so the count stands whatever happens to the attempt that failed."""
        locked = False
        async with self._db.platform_transaction() as tx:
            for key, factor in ((account, 1), (ip, IP_FACTOR)):
                failures = await counters.count_failure(tx, key, self._policy.window_seconds)
                wait = self._wait(failures, factor)
                if wait:
                    await counters.lock(tx, key, wait)
                if factor == 1 and failures >= self._policy.lockout_failures:
                    locked = True
        return locked

    def _wait(self, failures: int, factor: int) -> int:
        """Growing delays past the free failures, then a lockout."""
        p = self._policy
        if failures >= p.lockout_failures * factor:
            return p.lockout_seconds
        over = failures - p.free_failures * factor
        if over <= 0:
            return 0
        return int(min(2 ** (over - 1), MAX_DELAY_SECONDS))

    async def succeeded(self, account: bytes) -> None:
        async with self._db.platform_transaction() as tx:
            await counters.forget(tx, account)
