"""The limits' Prometheus series, beside the app's (`kit.metrics`): per tenant for the busiest
tenants only (their `tenant` label comes from `Metrics.tenants`), so cardinality stays bounded."""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from prometheus_client import Counter, Histogram

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.metrics import Metrics


class LimitMetrics:
    def __init__(self, metrics: Metrics) -> None:
        registry = metrics.registry
        self._label = metrics.tenants.label
        self.rate_limited = Counter(
            "tenantry_rate_limited_total",
            "Requests refused by a rate limit, by tenant, plan and limit (tenant or token).",
            ["tenant", "plan", "limit"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "tenantry_rate_limit_local_decisions_total",
            "Rate-limit decisions taken in-process because Redis did not answer.",
            registry=registry,
        )
        self.pool_waits = Counter(
            "tenantry_pool_share_waits_total",
            "Transactions that waited for a runtime connection (fair share), by tenant.",
            ["tenant"],
            registry=registry,
        )
        self.pool_wait_seconds = Histogram(
            "tenantry_pool_share_wait_seconds",
            "How long transactions waited for a runtime connection under the fair share.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.pool_refusals = Counter(
            "tenantry_pool_share_refusals_total",
            "Requests refused after waiting for a runtime connection, by tenant.",
            ["tenant"],
            registry=registry,
        )
        self.statement_timeouts = Counter(
            "tenantry_statement_timeouts_total",
            "Statements cancelled by their plan's statement timeout, by tenant.",
            ["tenant"],
            registry=registry,
        )
        metrics.per_tenant.extend(
            [self.rate_limited, self.pool_waits, self.pool_refusals, self.statement_timeouts]
        )

    def tenant(self, tenant_id: UUID) -> str:
        return self._label(tenant_id)

    # `kit.fairshare.ShareObserver`
    def waited(self, tenant: UUID, seconds: float) -> None:
        self.pool_waits.labels(self.tenant(tenant)).inc()
        self.pool_wait_seconds.observe(seconds)

    def refused(self, tenant: UUID) -> None:
        self.pool_refusals.labels(self.tenant(tenant)).inc()


_OF: WeakKeyDictionary[Metrics, LimitMetrics] = WeakKeyDictionary()


def limit_metrics(metrics: Metrics) -> LimitMetrics:
    """The limits' series in `metrics`' registry, registered once however often the services
    over it are built."""
    found = _OF.get(metrics)
    if found is None:
        found = _OF[metrics] = LimitMetrics(metrics)
    return found
