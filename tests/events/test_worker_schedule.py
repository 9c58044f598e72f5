"""The retry schedule and what an attempt leaves behind, without a database."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from tenantry.events.delivery import (
    MAX_ATTEMPTS,
    RETRY_SCHEDULE,
    Outcome,
    metric_label,
    retry_delay,
    short_error,
    verdict,
)

SVIX = [5, 300, 1800, 7200, 18000, 36000, 36000]


def test_the_schedule_is_svix_s() -> None:
    assert [d.total_seconds() for d in RETRY_SCHEDULE] == SVIX
    assert MAX_ATTEMPTS == 8


@pytest.mark.parametrize("attempts", range(1, 8))
def test_each_delay_is_jittered_within_twenty_percent(attempts: int) -> None:
    rng = random.Random(attempts)
    base = SVIX[attempts - 1]
    delays = [retry_delay(attempts, rng).total_seconds() for _ in range(500)]
    assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
    # Jittered, not constant: retries of many deliveries spread out.
    assert max(delays) - min(delays) > base * 0.2


def test_a_failure_is_retried_until_the_last_attempt_then_dead() -> None:
    failed = Outcome(ok=False, error="boom")
    for attempts in range(1, MAX_ATTEMPTS):
        decided = verdict(attempts, failed)
        assert decided.status == "pending"
        assert decided.retry_in is not None
        assert decided.retry_in >= timedelta(seconds=4)
    assert verdict(MAX_ATTEMPTS, failed).status == "dead"
    assert verdict(MAX_ATTEMPTS + 1, failed).status == "dead"
    assert verdict(3, Outcome(ok=True)).status == "delivered"


def test_errors_are_short_and_carry_no_credentials() -> None:
    text = short_error(RuntimeError("connect https://bob:hunter2@example.com token=abc123 failed"))
    assert "hunter2" not in text
    assert "abc123" not in text
    assert text.startswith("RuntimeError: ")
    assert len(short_error("x" * 5000)) <= 300


def test_webhook_consumers_share_one_metric_label() -> None:
    assert metric_label("webhook:0193aa") == metric_label("webhook:0193bb") == "webhook"
    assert metric_label("thinktank.indexer") == "thinktank.indexer"
