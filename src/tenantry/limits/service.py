"""Rate limits per tenant and per API token, and the runtime pool's governor (fair share and
statement timeouts), with each plan's quotas."""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.kit.errors import RateLimited, StatementTimeout
from tenantry.kit.fairshare import FairShare
from tenantry.limits.buckets import Limit, LocalBuckets, RedisBuckets
from tenantry.limits.quotas import DEFAULT_PLAN

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from uuid import UUID

    from tenantry.limits.buckets import BucketStore, Decision
    from tenantry.limits.metrics import LimitMetrics
    from tenantry.limits.quotas import Quotas

LIMIT_NAMES = ("tenant", "token")
# Refused credentials remembered at most (the least recently refused forgotten first, which
# only means its next request takes the whole path again).
REMEMBERED_REFUSALS = 10_000


def _digest(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()[:32]


def rate_headers(decision: Decision) -> dict[str, str]:
    """The RateLimit header fields (IETF httpapi draft) of the binding bucket."""
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(max(1, round(decision.reset))),
    }


@dataclass(frozen=True, slots=True)
class Refusal:
    """A credential's refusal, remembered until a token can come back to its bucket."""

    until: float  # time.monotonic()
    full_at: float
    tenant_id: UUID
    plan: str
    limit: str
    burst: int


class RateLimiter:
    """One decision per request: a token from the tenant's bucket and, for an API token, from
    the token's, or a 429 `rate_limited` with Retry-After.

    A refused credential is remembered until its bucket can hold a token again: until then
    every request with it would be refused too (buckets only refill with time), so `refused`
    answers them before any work, authentication included. Only the holder of the very
    credential can meet that answer, so it tells nobody else anything.
    """

    def __init__(
        self, quotas: Quotas, store: BucketStore, metrics: LimitMetrics, *, enabled: bool
    ) -> None:
        self.quotas = quotas
        self.enabled = enabled
        self._store = store
        self._metrics = metrics
        self._refusals: OrderedDict[str, Refusal] = OrderedDict()

    async def admit(
        self, tenant_id: UUID, plan: str, credential: str, *, api_token: bool
    ) -> Decision | None:
        """Count one request of the tenant with `credential` (an API token's counts against
        the token's bucket too); None when rate limits are off."""
        if not self.enabled:
            return None
        plan = plan or DEFAULT_PLAN
        quota = self.quotas.for_plan(plan)
        # A hash tag keeps a request's buckets in one Redis Cluster slot (one script call).
        keys = [f"{{{tenant_id}}}:tenant"]
        limits = [Limit(quota.requests_per_second, quota.burst)]
        digest = _digest(credential)  # a credential is a secret: only its digest is kept
        if api_token:
            keys.append(f"{{{tenant_id}}}:token:{digest}")
            limits.append(Limit(quota.token_requests_per_second, quota.token_burst))
        decision = await self._store.take(keys, limits)
        if decision.allowed:
            return decision
        now = time.monotonic()
        # The refusal stands for the whole Retry-After the answer gives (whole seconds), not
        # only until the next token: a client back sooner is early, and is held (`http`).
        refusal = Refusal(
            now + max(1, math.ceil(decision.retry_after)),
            now + decision.reset,
            tenant_id,
            plan,
            LIMIT_NAMES[decision.binding],
            decision.limit,
        )
        self._remember(digest, refusal)
        raise self._refused_error(refusal, now)

    def refused(self, credential: str) -> tuple[RateLimited, float] | None:
        """The refusal still standing for `credential`, if any (counted as one more), with the
        seconds it still stands."""
        if not self._refusals:
            return None
        digest = _digest(credential)
        refusal = self._refusals.get(digest)
        if refusal is None:
            return None
        now = time.monotonic()
        if now >= refusal.until:
            del self._refusals[digest]
            return None
        return self._refused_error(refusal, now), refusal.until - now

    def _remember(self, digest: str, refusal: Refusal) -> None:
        self._refusals[digest] = refusal
        self._refusals.move_to_end(digest)
        while len(self._refusals) > REMEMBERED_REFUSALS:
            self._refusals.popitem(last=False)

    def _refused_error(self, refusal: Refusal, now: float) -> RateLimited:
        tenant = self._metrics.tenant(refusal.tenant_id)
        self._metrics.rate_limited.labels(tenant, refusal.plan, refusal.limit).inc()
        headers = {
            "RateLimit-Limit": str(refusal.burst),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(max(1, math.ceil(refusal.full_at - now))),
        }
        return RateLimited(
            f"too many requests for this {refusal.limit}; slow down",
            max(1, math.ceil(refusal.until - now)),
            headers,
        )

    async def close(self) -> None:
        if isinstance(self._store, RedisBuckets):
            await self._store.close()


def bucket_store(redis_url: str, prefix: str, metrics: LimitMetrics) -> BucketStore:
    local = LocalBuckets()
    if not redis_url:
        return local
    return RedisBuckets(redis_url, prefix, local, on_fallback=metrics.fallbacks.inc)


class Governor:
    """`kit.tenant_limits.TenantGovernor`: the fair share of the runtime pool (None: no cap)
    and each plan's statement timeout, the plan read from the tenants' cache."""

    def __init__(
        self,
        quotas: Quotas,
        plan_of: Callable[[UUID], str | None],
        metrics: LimitMetrics,
        fair_share: FairShare | None,
    ) -> None:
        self._quotas = quotas
        self._plan_of = plan_of
        self._metrics = metrics
        self.fair_share = fair_share

    @asynccontextmanager
    async def admission(self, tenant_id: UUID) -> AsyncIterator[None]:
        try:
            if self.fair_share is None:
                yield
            else:
                async with self.fair_share.slot(tenant_id):
                    yield
        except StatementTimeout:
            self._metrics.statement_timeouts.labels(self._metrics.tenant(tenant_id)).inc()
            raise

    def statement_timeout_ms(self, tenant_id: UUID) -> int | None:
        plan = self._plan_of(tenant_id)
        return self._quotas.for_plan(plan or DEFAULT_PLAN).statement_timeout_ms


def fair_share(
    pool_size: int, share: float, max_wait: float, metrics: LimitMetrics
) -> FairShare | None:
    """The runtime pool's fair share; None when one tenant may take the whole pool."""
    if share >= 1:
        return None
    return FairShare(pool_size, share, max_wait, observer=metrics)
