"""Token-bucket math, the same in-process and in Redis's script, and the plans' quotas."""

from __future__ import annotations

import pytest

from tenantry.kit.errors import ConfigurationError
from tenantry.limits.buckets import Bucket, Limit, LocalBuckets, take
from tenantry.limits.quotas import DEFAULT_PLAN, Quotas


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_its_burst_then_refuses_until_it_refills() -> None:
    clock = Clock()
    buckets = LocalBuckets(clock=clock)
    limit = [Limit(rate=2, burst=3)]
    decisions = [buckets.take_now(["a"], limit) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    refused = decisions[-1]
    assert refused.retry_after == pytest.approx(0.5)  # one token at 2 a second
    assert refused.reset == pytest.approx(1.5)  # three tokens
    clock.now += 0.49
    assert not buckets.take_now(["a"], limit).allowed
    clock.now += 0.02
    assert buckets.take_now(["a"], limit).allowed


def test_refill_is_proportional_and_capped_at_the_burst() -> None:
    limit = Limit(rate=10, burst=5)
    decision, [state] = take([Bucket(tokens=0.0, at=0.0)], [limit], now=0.25)
    assert decision.allowed  # 2.5 tokens came back
    assert state.tokens == pytest.approx(1.5)
    _, [state] = take([Bucket(tokens=0.0, at=0.0)], [limit], now=3600)
    assert state.tokens == pytest.approx(4.0)  # a full bucket of 5, less this request


def test_a_refused_request_costs_no_bucket_anything() -> None:
    """The tenant's bucket keeps its tokens when the token's bucket refuses."""
    clock = Clock()
    buckets = LocalBuckets(clock=clock)
    tenant, token = Limit(rate=1, burst=10), Limit(rate=1, burst=2)
    allowed = [buckets.take_now(["t", "k"], [tenant, token]).allowed for _ in range(3)]
    assert allowed == [True, True, False]
    refused = buckets.take_now(["t", "k"], [tenant, token])
    assert refused.binding == 1  # the token's bucket refused
    # Another token of the tenant still finds the tenant's 8 tokens.
    other = buckets.take_now(["t", "k2"], [tenant, token])
    assert other.allowed
    assert other.remaining == 1  # the binding bucket is now k2's (1 of 2 left)
    assert buckets.take_now(["t"], [tenant]).remaining == 6


def test_the_binding_bucket_is_the_one_closest_to_empty() -> None:
    decision, _ = take([None, None], [Limit(100, 100), Limit(1, 2)], now=0)
    assert (decision.binding, decision.limit, decision.remaining) == (1, 2, 1)


def test_the_least_recently_used_buckets_go_first_when_there_are_too_many() -> None:
    clock = Clock()
    buckets = LocalBuckets(max_buckets=2, clock=clock)
    limit = [Limit(rate=0.001, burst=1)]
    assert buckets.take_now(["a"], limit).allowed
    assert buckets.take_now(["b"], limit).allowed
    assert buckets.take_now(["c"], limit).allowed  # drops a's bucket
    assert not buckets.take_now(["c"], limit).allowed
    assert buckets.take_now(["a"], limit).allowed  # a full bucket again: errs towards allowing


def test_configured_quotas_override_the_built_in_ones_field_by_field() -> None:
    quotas = Quotas(
        {
            "free": {"requests_per_second": 5},
            "default": {"statement_timeout_seconds": 2},
            "startup": {"burst": 7},
        }
    )
    free = quotas.for_plan("free")
    assert (free.requests_per_second, free.burst) == (5, 40)
    assert free.statement_timeout_ms == 10_000
    # A plan of its own starts from the configured default.
    startup = quotas.for_plan("startup")
    assert (startup.burst, startup.statement_timeout_ms) == (7, 2000)
    assert quotas.for_plan("unheard-of") == quotas.for_plan(DEFAULT_PLAN)
    assert quotas.for_plan("internal").statement_timeout_ms is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"requests_per_second": 0}, "requests_per_second"),
        ({"burst": 0.5}, "burst"),
        ({"tokens_per_minute": 3}, "tokens_per_minute"),
    ],
)
def test_a_bad_quota_is_refused_with_its_plan_and_field(
    fields: dict[str, float | None], reason: str
) -> None:
    with pytest.raises(ConfigurationError, match=rf"plan_quotas\.business: {reason}"):
        Quotas({"business": fields})
