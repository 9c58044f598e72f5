"""Rows in every costs table for the isolation suites, made through the API, and the helpers
the costs suites share."""

from __future__ import annotations

from typing import Any

from tests.support.accounts import tenant_admin


def cost(**overrides: Any) -> dict[str, Any]:
    """A cost event body: an LLM call unless `overrides` say otherwise."""
    return {
        "service": "llm",
        "model": "small-chat",
        "input_tokens": 1200,
        "output_tokens": 300,
        "cost_usd": "0.0125",
        **overrides,
    }


async def record(client, user, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        f"/v1/apps/{user.app}/costs/events", headers=user.auth, json=cost(**overrides)
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


async def populate(client, control_app, tenant, user) -> None:
    """Fill every costs table for `tenant` (`user` is a signed-in thinktank user)."""
    # Cost events, their daily summary and monthly total; 900 of the business plan's 1,000
    # dollars raises the 80 % budget alert.
    await record(
        client,
        user,
        cost_usd="900",
        app_user_id=user.id,
        idempotency_key=f"populate-{tenant.slug}",
        metadata={"request": "populate"},
    )
    admin = await tenant_admin(
        client, control_app.state.services.db, tenant, f"costs@{tenant.slug}.test"
    )
    thresholds = await client.put(
        "/v1/apps/admin/costs/budget/thresholds",
        headers=admin.auth,
        json={"percents": [80, 100]},
    )
    assert thresholds.status_code == 200, thresholds.text
    assert [t["percent"] for t in thresholds.json()["thresholds"] if t["alert"]] == [80]
