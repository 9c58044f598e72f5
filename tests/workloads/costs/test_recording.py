"""Recording cost events through the API: one or a batch, counted once per idempotency key,
listed newest first, and refused with a problem for anything the ledger cannot hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.support.accounts import signed_in
from tests.support.workload_costs import cost, record


@pytest.fixture
async def user(client, tenant):
    return await signed_in(client, "thinktank", tenant, "integration@example.com")


async def summary(client, user, **params):
    response = await client.get(
        f"/v1/apps/{user.app}/costs/summary", headers=user.auth, params=params
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_event_is_recorded_and_counted(client, user) -> None:
    event = await record(
        client,
        user,
        cost_usd="0.000001234",
        app_user_id=user.id,
        metadata={"conversation": "c-1"},
        units="2.5",
        unit="seconds",
    )
    assert event["replayed"] is False
    assert Decimal(event["cost_usd"]) == Decimal("0.000001234")
    assert event["app_user_id"] == user.id
    assert event["metadata"] == {"conversation": "c-1"}
    assert Decimal(event["units"]) == Decimal("2.5")
    today = datetime.now(UTC).date().isoformat()
    rows = (await summary(client, user))["rows"]
    assert [(r["period"], r["service"], r["events"]) for r in rows] == [(today, "llm", 1)]
    assert Decimal(rows[0]["cost_usd"]) == Decimal("0.000001234")
    assert rows[0]["input_tokens"] == 1200
    listed = await client.get("/v1/apps/thinktank/costs/events", headers=user.auth)
    assert [e["id"] for e in listed.json()["items"]] == [event["id"]]


async def test_a_retry_with_the_same_key_counts_once(client, user) -> None:
    first = await client.post(
        "/v1/apps/thinktank/costs/events",
        headers=user.auth,
        json=cost(idempotency_key="call-42", cost_usd="1.5"),
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        "/v1/apps/thinktank/costs/events",
        headers=user.auth,
        json=cost(idempotency_key="call-42", cost_usd="1.5"),
    )
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True
    assert again.json()["id"] == first.json()["id"]
    total = (await summary(client, user))["total"]
    assert (total["events"], Decimal(total["cost_usd"])) == (1, Decimal("1.5"))


async def test_a_batch_counts_each_key_once_and_answers_in_order(client, user) -> None:
    earlier = await record(client, user, idempotency_key="k-1", cost_usd="1")
    events = [
        cost(idempotency_key="k-1", cost_usd="1"),  # recorded before
        cost(idempotency_key="k-2", cost_usd="2", service="embedding"),
        cost(idempotency_key="k-2", cost_usd="2", service="embedding"),  # repeated within
        cost(cost_usd="4", service="speech", units="30", unit="seconds"),
    ]
    response = await client.post(
        "/v1/apps/thinktank/costs/events/batch", headers=user.auth, json={"events": events}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["recorded"], body["replayed"]) == (2, 2)
    assert body["ids"][0] == earlier["id"]
    assert body["ids"][1] == body["ids"][2]
    assert len(set(body["ids"])) == 3
    by_service = {r["service"]: r for r in (await summary(client, user))["rows"]}
    assert {s: (r["events"], Decimal(r["cost_usd"])) for s, r in by_service.items()} == {
        "llm": (1, Decimal(1)),
        "embedding": (1, Decimal(2)),
        "speech": (1, Decimal(4)),
    }
    assert Decimal(by_service["speech"]["units"]) == Decimal(30)


async def test_events_page_newest_first(client, user) -> None:
    ids = [(await record(client, user, cost_usd=str(i)))["id"] for i in range(5)]
    first = await client.get(
        "/v1/apps/thinktank/costs/events", headers=user.auth, params={"limit": 3}
    )
    page = first.json()
    assert [e["id"] for e in page["items"]] == ids[::-1][:3]
    second = await client.get(
        "/v1/apps/thinktank/costs/events",
        headers=user.auth,
        params={"limit": 3, "before": page["next_before"]},
    )
    assert [e["id"] for e in second.json()["items"]] == ids[::-1][3:]
    assert second.json()["next_before"] is None


async def test_summaries_by_day_week_and_month(client, user) -> None:
    now = datetime.now(UTC)
    # Within the current month, so that week and month buckets are both predictable.
    days = [now - timedelta(days=d) for d in (0, 1) if (now - timedelta(days=d)).month == now.month]
    for at in days:
        await record(client, user, occurred_at=at.isoformat(), cost_usd="2")
    await record(client, user, occurred_at=now.isoformat(), cost_usd="3", service="embedding")
    by_day = await summary(client, user, granularity="day", group="none")
    assert [Decimal(r["cost_usd"]) for r in by_day["rows"]][-1] == Decimal(5)
    assert len(by_day["rows"]) == len(days)
    by_month = await summary(client, user, granularity="month")
    month = now.date().replace(day=1).isoformat()
    assert {(r["period"], r["service"]) for r in by_month["rows"]} == {
        (month, "llm"),
        (month, "embedding"),
    }
    assert Decimal(by_month["total"]["cost_usd"]) == Decimal(2 * len(days) + 3)
    by_week = await summary(client, user, granularity="week", service="embedding")
    monday = (now.date() - timedelta(days=now.weekday())).isoformat()
    assert [(r["period"], r["events"]) for r in by_week["rows"]] == [(monday, 1)]
    assert by_week["since"] <= monday


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (cost(service="LLM!"), "service"),
        (cost(cost_usd="-1"), "cost_usd"),
        (cost(cost_usd="0.0000000001"), "cost_usd"),
        (cost(cost_usd="NaN"), "cost_usd"),
        (cost(input_tokens=-5), "input_tokens"),
        (cost(occurred_at="2026-01-01T00:00:00"), "occurred_at"),
        (cost(app_user_id="not-a-uuid"), "app_user_id"),
        (cost(metadata={"x": "y" * 5000}), "metadata"),
        (cost(surprise=True), "surprise"),
        ({"service": "llm"}, "cost_usd"),
    ],
)
async def test_invalid_events_are_refused_with_the_field(client, user, body, field) -> None:
    response = await client.post("/v1/apps/thinktank/costs/events", headers=user.auth, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert any(field in error["field"] for error in problem["errors"]), problem


@pytest.mark.parametrize(
    ("occurred_at", "detail"),
    [
        (datetime.now(UTC) - timedelta(days=401), "more than 400 days ago"),
        (datetime.now(UTC) + timedelta(hours=1), "in the future"),
    ],
)
async def test_times_outside_the_ledger_are_refused(client, user, occurred_at, detail) -> None:
    response = await client.post(
        "/v1/apps/thinktank/costs/events",
        headers=user.auth,
        json=cost(occurred_at=occurred_at.isoformat()),
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
    assert detail in response.json()["detail"]


async def test_costs_of_another_apps_user_are_refused(client, tenant, user) -> None:
    other = await signed_in(client, "launchboard", tenant, "elsewhere@example.com")
    response = await client.post(
        "/v1/apps/thinktank/costs/events", headers=user.auth, json=cost(app_user_id=other.id)
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "app_user_id: no such user in this app"
    assert (await summary(client, user))["rows"] == []


async def test_a_failing_batch_records_nothing(client, user) -> None:
    events = [cost(), cost(occurred_at=(datetime.now(UTC) + timedelta(days=1)).isoformat())]
    response = await client.post(
        "/v1/apps/thinktank/costs/events/batch", headers=user.auth, json={"events": events}
    )
    assert response.status_code == 422, response.text
    assert "events[1].occurred_at" in response.json()["detail"]
    assert (await summary(client, user))["rows"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-03-01", "until": "2026-02-01"},
        {"granularity": "day", "since": "2024-01-01", "until": "2026-01-01"},
        {"granularity": "year"},
        {"since": "0001-01-01"},
        {"group": "app"},
        {"service": "Not A Service"},
    ],
)
async def test_bad_summary_requests_are_refused(client, user, params) -> None:
    response = await client.get(
        "/v1/apps/thinktank/costs/summary", headers=user.auth, params=params
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] in ("invalid_input", "validation_failed")
