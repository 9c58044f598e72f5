"""Which tenants get a metrics label of their own: at most `limit`, the busiest; the rest share
`other`, so the number of series stays bounded whatever the number of tenants.

Traffic is counted with the Space-Saving algorithm in `4 * limit` counters (a tenant among the
busiest is always counted, however many tenants there are), halved every `window` seconds so
that "busiest" means lately. Labels go to the first `limit` tenants seen; after that, at each
window's end, a tenant whose *guaranteed* count (its count less what it inherited on entering
the counters) is more than twice the quietest labelled tenant's highest possible count takes
that tenant's label. The margin keeps tenants of similar traffic from trading labels every
window, and many tenants of even traffic, none of them busier, keep the labels they have. A
tenant that loses its label has its series removed (`on_release`), its later traffic counted
under `other`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from uuid import UUID

OTHER = "other"
# Requests answered before any tenant was known (sign-in failures, health checks, …).
NO_TENANT = "none"
MARGIN = 2.0


class TenantLabels:
    def __init__(
        self,
        limit: int,
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._capacity = 4 * limit
        self._counts: dict[str, float] = {}
        # What each counter inherited when its tenant took it over (Space-Saving's error).
        self._errors: dict[str, float] = {}
        self._labelled: set[str] = set()
        self._window_ends = clock() + window
        self.on_release: list[Callable[[str], None]] = []

    def label(self, tenant_id: UUID | None) -> str:
        """The label of `tenant_id`, without counting traffic (for metrics beside requests)."""
        if tenant_id is None:
            return NO_TENANT
        key = str(tenant_id)
        return key if key in self._labelled else OTHER

    def count(self, tenant_id: UUID | None) -> str:
        """Count one request of `tenant_id` and return its label."""
        if tenant_id is None:
            return NO_TENANT
        key = str(tenant_id)
        self._count(key)
        if key not in self._labelled and len(self._labelled) < self.limit:
            self._labelled.add(key)
        if self._clock() >= self._window_ends:
            self._rebalance()
        return key if key in self._labelled else OTHER

    @property
    def labelled(self) -> frozenset[str]:
        return frozenset(self._labelled)

    def _count(self, key: str) -> None:
        counts = self._counts
        if key in counts:
            counts[key] += 1
        elif len(counts) < self._capacity:
            counts[key] = 1
            self._errors[key] = 0
        elif counts:
            # Space-Saving: the newcomer inherits the smallest count (an upper bound of its
            # own), so a busy tenant climbs past the quiet ones it replaces.
            smallest = min(counts, key=counts.__getitem__)
            inherited = counts.pop(smallest)
            del self._errors[smallest]
            counts[key] = inherited + 1
            self._errors[key] = inherited

    def _rebalance(self) -> None:
        self._window_ends = self._clock() + self.window
        counts, errors = self._counts, self._errors
        # A tenant no counter holds has had at most the smallest count.
        floor = min(counts.values()) if len(counts) >= self._capacity else 0.0
        guaranteed = {key: counts[key] - errors[key] for key in counts}
        busiest = sorted(guaranteed, key=guaranteed.__getitem__, reverse=True)[: self.limit]
        for key in busiest:
            if key in self._labelled:
                continue
            if len(self._labelled) < self.limit:
                self._labelled.add(key)
                continue
            quietest = min(self._labelled, key=lambda k: counts.get(k, floor))
            if guaranteed[key] <= MARGIN * counts.get(quietest, floor):
                break  # `busiest` is sorted: no later candidate is busier
            self._labelled.discard(quietest)
            self._labelled.add(key)
            for release in self.on_release:
                release(quietest)
        for key in list(counts):
            counts[key] /= 2
            errors[key] /= 2
            if counts[key] < 0.5:  # noqa: PLR2004 - a tenant silent for a few windows is forgotten
                del counts[key], errors[key]
