"""Flag values are bounded JSON: too deep or too large is refused over HTTP and in the service,
values at the limit round-trip, values stored before the limit still read back, and concurrent
duplicate definitions are conflicts (regressions from an outside review)."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tenantry.kit import jsonvalue
from tenantry.kit.errors import InvalidInput
from tenantry.kit.ids import uuid7
from tests.support.accounts import make_tenant
from tests.support.wiring import FIXTURES, services_for


def nested(depth: int) -> object:
    value: object = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("default", nested(256)),
        ("default", nested(jsonvalue.MAX_DEPTH + 1)),
        ("default", {"blob": "x" * (jsonvalue.MAX_BYTES + 1)}),
    ],
    ids=["256-deep", "one-level-too-deep", "too-large"],
)
async def test_out_of_bounds_json_is_refused_and_not_stored(
    control_client, operator, field, value
) -> None:
    key = f"bounded.{uuid7().hex[-8:]}"
    body = {"key": key, "type": "json", field: value, "reason": "too much"}
    created = await control_client.post("/v1/platform/flags", headers=operator.auth, json=body)
    assert created.status_code == 422, created.text
    assert created.json()["code"] == "validation_failed"
    listed = await control_client.get("/v1/platform/flags", headers=operator.auth)
    assert listed.status_code == 200
    assert key not in {f["key"] for f in listed.json()}


async def test_json_at_the_limit_is_stored_and_read_back(control_client, operator, db) -> None:
    key = f"bounded.{uuid7().hex[-8:]}"
    value = nested(jsonvalue.MAX_DEPTH)
    created = await control_client.post(
        "/v1/platform/flags",
        headers=operator.auth,
        json={"key": key, "type": "json", "default": value, "reason": "at the limit"},
    )
    assert created.status_code == 201, created.text
    tenant = await make_tenant(db, "thinktank")
    deep_override = await control_client.put(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}",
        headers=operator.auth,
        json={"value": nested(300), "reason": "too deep"},
    )
    assert deep_override.status_code == 422
    override = await control_client.put(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}",
        headers=operator.auth,
        json={"value": value, "reason": "at the limit"},
    )
    assert override.status_code == 200
    flags = {
        f["key"]: f
        for f in (await control_client.get("/v1/platform/flags", headers=operator.auth)).json()
    }
    assert flags[key]["default_value"] == value


async def test_the_limit_holds_outside_http_too(db) -> None:
    with pytest.raises(InvalidInput, match="nested at most"):
        await services_for(db).flags.define(
            f"bounded.{uuid7().hex[-8:]}", "json", nested(100), by=FIXTURES, reason="deep"
        )


async def test_reads_survive_deep_values_stored_before_the_limit(
    control_client, operator, db, urls
) -> None:
    """Values written before the limit existed are read back as their JSON text."""
    key = f"legacy.{uuid7().hex[-8:]}"
    tenant = await make_tenant(db, "thinktank")
    deep = nested(300)
    # Written as rows on purpose: the services refuse these values now.
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO tenantry.feature_flags (key, type, default_value, description, owner)
               VALUES (%s, 'json', %s, '', '')""",
            [key, Jsonb(deep)],
        )
        conn.execute(
            """INSERT INTO tenantry.feature_flag_override_versions
                   (tenant_id, id, flag_key, app_id, version, value, removed, actor, reason)
               VALUES (%s, %s, %s, NULL, 1, %s, false, 'legacy', 'before the limit')""",
            [tenant.id, uuid7(), key, Jsonb(deep)],
        )
    listed = await control_client.get("/v1/platform/flags", headers=operator.auth)
    assert listed.status_code == 200
    legacy = next(f for f in listed.json() if f["key"] == key)
    assert json.loads(legacy["default_value"]) == deep
    versions = await control_client.get(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}/versions", headers=operator.auth
    )
    assert versions.status_code == 200, versions.text
    assert json.loads(versions.json()[0]["value"]) == deep


async def test_concurrent_duplicate_flags_are_conflicts(control_client, operator) -> None:
    key = f"race.{uuid7().hex[-8:]}"
    body = {"key": key, "type": "boolean", "default": False, "reason": "race"}
    answers = await asyncio.gather(
        *(
            control_client.post("/v1/platform/flags", headers=operator.auth, json=body)
            for _ in range(8)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 7, [a.text for a in answers]
    assert all(a.json()["code"] == "conflict" for a in answers if a.status_code == 409)
