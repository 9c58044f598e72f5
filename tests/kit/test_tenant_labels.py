"""Per-tenant metrics stay bounded: at most `limit` tenants have a label of their own, the
busiest, whatever the number of tenants; the rest are counted as `other`."""

from __future__ import annotations

import uuid

from prometheus_client import generate_latest

from tenantry.kit.metrics import Metrics
from tenantry.kit.tenant_labels import NO_TENANT, OTHER, TenantLabels


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def series(metrics: Metrics, name: str) -> list[str]:
    text = generate_latest(metrics.registry).decode()
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def test_a_thousand_tenants_make_at_most_limit_plus_two_label_values() -> None:
    metrics = Metrics(tenant_labels=20)
    tenants = [uuid.uuid4() for _ in range(1000)]
    for round_ in range(3):
        for n, tenant in enumerate(tenants):
            metrics.tenant_request(tenant, 200 if n % 7 else 500, 0.004, 0.001, 2)
        metrics.tenant_request(None, 401, 0.001, 0.0, 0)
        metrics.tenants._window_ends = 0  # end the window: rebalance on the next request
        assert round_ < 3

    labels = {
        line.split('tenant="')[1].split('"')[0]
        for line in series(metrics, "tenantry_tenant_requests_total")
    }
    assert len(labels) <= 20 + 2
    assert {OTHER, NO_TENANT} <= labels
    assert len(series(metrics, "tenantry_tenant_db_seconds_total")) <= 21
    # Each labelled tenant has its latency histogram: 12 buckets, +Inf, and nothing else grows.
    assert len(series(metrics, "tenantry_tenant_request_duration_seconds_bucket")) <= 22 * 13
    # Nothing is lost: every request is counted under some label.
    total = sum(
        float(line.rsplit(" ", 1)[1]) for line in series(metrics, "tenantry_tenant_requests_total")
    )
    assert total == 3 * 1001


def test_a_busy_tenant_takes_the_label_of_the_quietest_and_its_series_go() -> None:
    clock = Clock()
    labels = TenantLabels(2, window=60, clock=clock)
    released: list[str] = []
    labels.on_release.append(released.append)
    quiet, steady, busy = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert labels.count(quiet) == str(quiet)  # the first `limit` tenants are labelled at once
    for _ in range(50):
        labels.count(steady)
    assert labels.count(busy) == OTHER
    for _ in range(100):
        labels.count(busy)
    clock.now = 61
    assert labels.count(busy) == str(busy)
    assert released == [str(quiet)]
    assert labels.label(quiet) == OTHER
    assert labels.labelled == {str(steady), str(busy)}


def test_similar_traffic_does_not_trade_labels_every_window() -> None:
    clock = Clock()
    labels = TenantLabels(1, window=60, clock=clock)
    first, second = uuid.uuid4(), uuid.uuid4()
    for window in range(1, 6):
        for _ in range(100):
            labels.count(first)
            labels.count(second)
        clock.now = 60 * window + 1
    assert labels.labelled == {str(first)}


def test_memory_is_bounded_by_four_times_the_limit() -> None:
    labels = TenantLabels(5)
    for _ in range(10_000):
        labels.count(uuid.uuid4())
    assert len(labels._counts) <= 20
    assert len(labels.labelled) == 5


def test_no_labels_counts_everyone_as_other() -> None:
    labels = TenantLabels(0)
    assert labels.count(uuid.uuid4()) == OTHER
    assert labels.count(None) == NO_TENANT


def test_a_tenant_turning_busy_among_a_thousand_quiet_ones_gets_a_label() -> None:
    clock = Clock()
    labels = TenantLabels(10, window=60, clock=clock)
    quiet = [uuid.uuid4() for _ in range(1000)]
    hot = uuid.uuid4()
    for tenant in quiet:
        labels.count(tenant)
    for window in range(1, 4):
        for n, tenant in enumerate(quiet):
            labels.count(tenant)
            if n % 4 == 0:
                labels.count(hot)
        clock.now = 60 * window + 1
    assert labels.count(hot) == str(hot)
    assert len(labels.labelled) == 10
