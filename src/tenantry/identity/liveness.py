"""Sessions recently seen live, so that the gateway need not ask the database on every call.

Tenantry's own routes check the caller's session in the round trip of their first statement,
which costs nothing extra. A forwarded call has no statement of its own, so that check would be
a round trip of its own on every call. Instead, a session seen live is trusted for a few seconds
(`gateway_session_recheck_seconds`), and forgotten at once when its tenant's sessions change:
a trigger on `tenantry.sessions` (migration 0020) notifies the tenant's invalidation scope when
a session is revoked, shortened or deleted, in the transaction that does it.

The seconds bound only what a lost notification could cost: entries are trusted only while the
invalidation listener is connected, and a check that raced with a revocation is not remembered
(the generation counter, as in the tenant context cache).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from uuid import UUID

from tenantry.kit.invalidation import EVERYTHING

if TYPE_CHECKING:
    from collections.abc import Callable

    from tenantry.identity.principal import Principal

# Past this many remembered sessions the memory starts over: a bound, not a working size.
MAX_ENTRIES = 100_000


class SessionLiveness:
    def __init__(self, seconds: float, listening: Callable[[], bool]) -> None:
        self._seconds = seconds
        self._listening = listening
        self._seen: dict[tuple[UUID, UUID], float] = {}
        self.generation = 0

    def recently_live(self, principal: Principal) -> bool:
        """Whether the principal's session was seen live within the window and nothing that
        could have ended it has been heard of since. Acting grants are always checked."""
        if principal.session_id is None or principal.acting is not None or not self._seconds:
            return False
        seen = self._seen.get((principal.tenant_id, principal.session_id))
        return seen is not None and time.monotonic() - seen < self._seconds and self._listening()

    def seen_live(self, principal: Principal, generation: int) -> None:
        """Remember a session the database has just confirmed, unless an invalidation arrived
        while it was being checked (`generation` is the value read before the check)."""
        if principal.session_id is None or generation != self.generation:
            return
        if len(self._seen) >= MAX_ENTRIES:
            self._seen.clear()
        self._seen[(principal.tenant_id, principal.session_id)] = time.monotonic()

    def invalidate(self, scope: str) -> None:
        self.generation += 1
        if scope == EVERYTHING:
            self._seen.clear()
            return
        try:
            tenant = UUID(scope)
        except ValueError:
            return  # another kind of scope (signing keys)
        for key in [k for k in self._seen if k[0] == tenant]:
            del self._seen[key]
