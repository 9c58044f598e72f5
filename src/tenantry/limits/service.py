"""Rate limits per tenant and per API token, and the runtime pool's governor (fair share and
statement timeouts), with each plan's quotas."""

from __future__ import annotations

import hashlib
import math
from contextlib import asynccontextmanager
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


def rate_headers(decision: Decision) -> dict[str, str]:
    """The RateLimit header fields (IETF httpapi draft) of the binding bucket."""
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(max(1, round(decision.reset))),
    }


class RateLimiter:
    """One decision per request: a token from the tenant's bucket and, for an API token, from
    the token's, or a 429 `rate_limited` with Retry-After."""

    def __init__(
        self, quotas: Quotas, store: BucketStore, metrics: LimitMetrics, *, enabled: bool
    ) -> None:
        self.quotas = quotas
        self.enabled = enabled
        self._store = store
        self._metrics = metrics

    async def admit(self, tenant_id: UUID, plan: str, api_token: str | None) -> Decision | None:
        """Count one request of the tenant (through `api_token` if it is one); None when rate
        limits are off."""
        if not self.enabled:
            return None
        plan = plan or DEFAULT_PLAN
        quota = self.quotas.for_plan(plan)
        # A hash tag keeps a request's buckets in one Redis Cluster slot (one script call).
        keys = [f"{{{tenant_id}}}:tenant"]
        limits = [Limit(quota.requests_per_second, quota.burst)]
        if api_token is not None:
            # The token itself is a credential: only a digest of it names its bucket.
            digest = hashlib.sha256(api_token.encode()).hexdigest()[:32]
            keys.append(f"{{{tenant_id}}}:token:{digest}")
            limits.append(Limit(quota.token_requests_per_second, quota.token_burst))
        decision = await self._store.take(keys, limits)
        if not decision.allowed:
            limit = LIMIT_NAMES[decision.binding]
            self._metrics.rate_limited.labels(self._metrics.tenant(tenant_id), plan, limit).inc()
            raise RateLimited(
                f"too many requests for this {limit}; slow down",
                max(1, math.ceil(decision.retry_after)),
                rate_headers(decision),
            )
        return decision

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
