"""Control-plane regressions from an outside review: a platform administrator's least-privilege
token held full control-plane power, deeply nested JSON was stored and then broke every read,
concurrent duplicates answered 500, and tenant search treated `%` and `_` as wildcards."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tenantry.kit import jsonvalue
from tenantry.kit.errors import Conflict, InvalidInput
from tenantry.kit.ids import uuid7
from tests.api.conftest import make_tenant, signed_in, tenant_admin
from tests.conftest import FIXTURES, services_for
from tests.control.test_lifecycle import request


def nested(depth: int) -> object:
    value: object = []
    for _ in range(depth - 1):
        value = [value]
    return value


async def operator_token(client, operator, scopes: list[str]) -> dict[str, str]:
    created = await client.post(
        "/v1/apps/admin/api-tokens",
        headers=operator.auth,
        json={"name": "least privilege", "scopes": scopes},
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['token']}"}


async def test_a_platform_admins_token_needs_the_platform_scope(client, operator, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    setting = f"/v1/platform/tenants/{tenant.slug}/settings/timezone"
    change = {"value": "Europe/Paris", "reason": "leaked token"}
    for scopes in (["profile"], [], ["admin"], ["profile", "admin"]):
        token = await operator_token(client, operator, scopes)
        for method, path, body in (
            ("GET", "/v1/platform/tenants", None),
            ("PUT", setting, change),
            (
                "POST",
                f"/v1/platform/tenants/{tenant.slug}/lifecycle",
                {"action": "suspend", "reason": "x"},
            ),
            (
                "POST",
                "/v1/platform/flags",
                {"key": "leak.flag", "type": "boolean", "default": True, "reason": "x"},
            ),
        ):
            response = await client.request(method, path, headers=token, json=body)
            assert response.status_code == 404, (scopes, path, response.text)
    # Nothing changed.
    settings = await client.get(
        f"/v1/platform/tenants/{tenant.slug}/settings", headers=operator.auth
    )
    assert settings.json()["timezone"] == "UTC"
    detail = await client.get(f"/v1/platform/tenants/{tenant.slug}", headers=operator.auth)
    assert detail.json()["tenant"]["status"] == "active"
    # A token that was given the platform scope works.
    platform = await operator_token(client, operator, ["platform"])
    assert (await client.get("/v1/platform/tenants", headers=platform)).status_code == 200
    assert (await client.put(setting, headers=platform, json=change)).status_code == 200


async def test_only_platform_admins_can_grant_the_platform_scope(client, db, tenant) -> None:
    admin = await tenant_admin(client, db, tenant, "tenant-admin@example.com")
    refused = await client.post(
        "/v1/apps/admin/api-tokens",
        headers=admin.auth,
        json={"name": "escalate", "scopes": ["platform"]},
    )
    assert refused.status_code == 422
    user = await signed_in(client, "thinktank", tenant, "app-user@example.com")
    for scope in ("admin", "platform"):
        refused = await client.post(
            "/v1/apps/thinktank/api-tokens",
            headers=user.auth,
            json={"name": "escalate", "scopes": [scope]},
        )
        assert refused.status_code == 422, scope


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("default", nested(256)),
        ("default", nested(jsonvalue.MAX_DEPTH + 1)),
        ("default", {"blob": "x" * (jsonvalue.MAX_BYTES + 1)}),
    ],
    ids=["256-deep", "one-level-too-deep", "too-large"],
)
async def test_out_of_bounds_json_is_refused_and_not_stored(client, operator, field, value) -> None:
    key = f"bounded.{uuid7().hex[-8:]}"
    body = {"key": key, "type": "json", field: value, "reason": "too much"}
    created = await client.post("/v1/platform/flags", headers=operator.auth, json=body)
    assert created.status_code == 422, created.text
    assert created.json()["code"] == "validation_failed"
    listed = await client.get("/v1/platform/flags", headers=operator.auth)
    assert listed.status_code == 200
    assert key not in {f["key"] for f in listed.json()}


async def test_json_at_the_limit_is_stored_and_read_back(client, operator, db) -> None:
    key = f"bounded.{uuid7().hex[-8:]}"
    value = nested(jsonvalue.MAX_DEPTH)
    created = await client.post(
        "/v1/platform/flags",
        headers=operator.auth,
        json={"key": key, "type": "json", "default": value, "reason": "at the limit"},
    )
    assert created.status_code == 201, created.text
    tenant = await make_tenant(db, "thinktank")
    deep_override = await client.put(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}",
        headers=operator.auth,
        json={"value": nested(300), "reason": "too deep"},
    )
    assert deep_override.status_code == 422
    override = await client.put(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}",
        headers=operator.auth,
        json={"value": value, "reason": "at the limit"},
    )
    assert override.status_code == 200
    flags = {
        f["key"]: f for f in (await client.get("/v1/platform/flags", headers=operator.auth)).json()
    }
    assert flags[key]["default_value"] == value


async def test_the_limit_holds_outside_http_too(db) -> None:
    with pytest.raises(InvalidInput, match="nested at most"):
        await services_for(db).flags.define(
            f"bounded.{uuid7().hex[-8:]}", "json", nested(100), by=FIXTURES, reason="deep"
        )


async def test_reads_survive_deep_values_stored_before_the_limit(
    client, operator, db, urls
) -> None:
    """Values written before the limit existed are read back as their JSON text."""
    key = f"legacy.{uuid7().hex[-8:]}"
    tenant = await make_tenant(db, "thinktank")
    deep = nested(300)
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
    listed = await client.get("/v1/platform/flags", headers=operator.auth)
    assert listed.status_code == 200
    legacy = next(f for f in listed.json() if f["key"] == key)
    assert json.loads(legacy["default_value"]) == deep
    versions = await client.get(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}/versions", headers=operator.auth
    )
    assert versions.status_code == 200, versions.text
    assert json.loads(versions.json()[0]["value"]) == deep


async def test_concurrent_duplicate_flags_are_conflicts(client, operator) -> None:
    key = f"race.{uuid7().hex[-8:]}"
    body = {"key": key, "type": "boolean", "default": False, "reason": "race"}
    answers = await asyncio.gather(
        *(client.post("/v1/platform/flags", headers=operator.auth, json=body) for _ in range(8))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 7, [a.text for a in answers]
    assert all(a.json()["code"] == "conflict" for a in answers if a.status_code == 409)


async def test_concurrent_duplicate_issuers_are_conflicts(client, db, tenant) -> None:
    admin = await tenant_admin(client, db, tenant, "issuers@example.com")
    body = {
        "app": "thinktank",
        "issuer": "https://idp.example.com",
        "audience": "tenantry",
        "jwks_uri": "https://idp.example.com/jwks",
    }
    answers = await asyncio.gather(
        *(
            client.post("/v1/apps/admin/external-issuers", headers=admin.auth, json=body)
            for _ in range(6)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5


async def test_concurrent_sign_ups_with_one_email_make_one_account(client, db, tenant) -> None:
    body = {
        "tenant": tenant.slug,
        "email": "twins@example.com",
        "password": "quartz-ember-violin-58",
    }
    answers = await asyncio.gather(
        *(client.post("/v1/apps/thinktank/auth/signup", json=body) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [202] * 5
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT count(*) AS n FROM tenantry.app_users WHERE tenant_id = %s", [tenant.id]
        )
    assert row is not None
    assert row["n"] == 1


async def test_a_unique_violation_is_a_conflict_in_any_repository(db, tenant) -> None:
    """One mechanism: the transaction turns every duplicate into `Conflict`."""
    statement = "INSERT INTO tenantry.tenant_apps (tenant_id, app_id) SELECT %s, id FROM tenantry.apps WHERE slug = 'thinktank'"
    with pytest.raises(Conflict, match="tenant apps"):
        async with db.platform_transaction() as tx:
            await tx.execute(statement, [tenant.id])


async def test_tenant_search_matches_wildcards_literally(client, operator) -> None:
    marker = uuid7().hex[-6:]
    for slug, name in ((f"pct-{marker}", f"100% {marker}"), (f"num-{marker}", f"1000 {marker}")):
        created = await client.post(
            "/v1/platform/tenants",
            headers=operator.auth,
            json=request(slug=slug, name=name).model_dump(),
        )
        assert created.status_code == 201, created.text
    for query, expected in (("100%", [f"pct-{marker}"]), ("_", [])):
        page = await client.get(
            "/v1/platform/tenants", headers=operator.auth, params={"q": f"{query} {marker}"}
        )
        assert [t["slug"] for t in page.json()["items"]] == expected, query
