"""Prometheus metrics, one registry per app instance (so tests can build several apps).

Per-tenant series carry a `tenant` label (the tenant's id) for the busiest tenants only, the
rest sharing `other` (`kit.tenant_labels`): a metric with a `tenant` label must be listed in
`per_tenant`, so that a tenant losing its label loses its series too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tenantry.kit.tenant_labels import TenantLabels

if TYPE_CHECKING:
    from uuid import UUID

    from prometheus_client.metrics import MetricWrapperBase

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class Metrics:
    def __init__(self, tenant_labels: int = 50) -> None:
        self.registry = CollectorRegistry()
        self.tenants = TenantLabels(tenant_labels)
        self.requests = Counter(
            "tenantry_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tenantry_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "tenantry_auth_failures_total",
            "Rejected credentials by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.security_events = Counter(
            "tenantry_security_events_total",
            "Security events recorded, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.pool_size = Gauge(
            "tenantry_db_pool_connections",
            "Database pool connections by pool and state.",
            ["pool", "state"],
            registry=self.registry,
        )
        self.tenant_requests = Counter(
            "tenantry_tenant_requests_total",
            "HTTP requests by tenant (the busiest tenants' ids, others `other`) and status class.",
            ["tenant", "status_class"],
            registry=self.registry,
        )
        self.tenant_latency = Histogram(
            "tenantry_tenant_request_duration_seconds",
            "HTTP request latency by tenant.",
            ["tenant"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tenant_db_seconds = Counter(
            "tenantry_tenant_db_seconds_total",
            "Time spent in database statements (round trips included) serving each tenant.",
            ["tenant"],
            registry=self.registry,
        )
        self.tenant_db_statements = Counter(
            "tenantry_tenant_db_statements_total",
            "Database statements run serving each tenant.",
            ["tenant"],
            registry=self.registry,
        )
        self.per_tenant: list[MetricWrapperBase] = [
            self.tenant_requests,
            self.tenant_latency,
            self.tenant_db_seconds,
            self.tenant_db_statements,
        ]
        self.tenants.on_release.append(self._release)

    def tenant_request(
        self,
        tenant_id: UUID | None,
        status: int,
        seconds: float,
        db_seconds: float,
        statements: int,
    ) -> None:
        """One answered request of `tenant_id` (None: no tenant was known)."""
        label = self.tenants.count(tenant_id)
        self.tenant_requests.labels(label, f"{status // 100}xx").inc()
        self.tenant_latency.labels(label).observe(seconds)
        if statements:
            self.tenant_db_seconds.labels(label).inc(db_seconds)
            self.tenant_db_statements.labels(label).inc(statements)

    def _release(self, tenant: str) -> None:
        for metric in self.per_tenant:
            metric.remove_by_labels({"tenant": tenant})
