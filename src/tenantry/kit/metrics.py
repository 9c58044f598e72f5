"""Prometheus metrics, one registry per app instance (so tests can build several apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
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
