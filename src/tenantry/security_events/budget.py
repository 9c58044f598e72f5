"""A bound on the security events that unauthenticated callers can make this process write."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class RecordBudget:
    """At most `per_source` records per source address and `overall` in all per clock minute,
    in this process. An event anyone can provoke (a forged token costs nothing to send) must
    not let one caller, or many, flood the database; a rule's burst still gets through when
    `per_source` is at least its threshold. Memory is bounded too: only admitted sources are
    remembered, and forgotten each minute."""

    def __init__(
        self, *, per_source: int, overall: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._per_source = per_source
        self._overall = overall
        self._clock = clock
        self._minute = -1
        self._total = 0
        self._counts: dict[str, int] = {}

    def admit(self, source: str) -> bool:
        """Whether one more record from `source` fits this minute (and count it if so)."""
        minute = int(self._clock() // 60)
        if minute != self._minute:
            self._minute, self._total = minute, 0
            self._counts.clear()
        used = self._counts.get(source, 0)
        if used >= self._per_source or self._total >= self._overall:
            return False
        self._counts[source] = used + 1
        self._total += 1
        return True
