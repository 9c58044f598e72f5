"""The gateway against two real upstream versions: pinning, header hygiene, the assertion,
timeouts, a down upstream, streaming, and that nothing reaches an upstream without a caller."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import psycopg
import pytest

from tests.gateway import rawhttp
from tests.gateway.conftest import APP, SLOW_TIMEOUT_MS, Stage
from tests.support.accounts import make_tenant, signed_in, tenant_admin
from tests.support.wiring import FIXTURES, services_for

MIB = 1024 * 1024
# Requests that try to reach another version, or out of the app, by what a caller controls.
TRICKS: list[tuple[str, list[tuple[str, str]]]] = [
    ("/v1/apps/relay/workspaces/1?x=1", []),
    ("/v1/apps/relay/workspaces/1", [("X-Forwarded-Host", "127.0.0.1")]),
    ("/v1/apps/relay/workspaces/1", [("Host", "evil.example")]),
    ("/v1/apps/relay/workspaces/1", [("X-Tenantry-Version", "1.0.0")]),
    ("/v1/apps/relay/workspaces/1", [("X-Tenantry-Version", "2.0.0")]),
    ("/v1/apps/relay/workspaces/../workspaces/1", []),
    ("/v1/apps/relay/workspaces/%2e%2e/threads", []),
    ("/v1/apps/relay/..%2F..%2Fworkspaces", []),
    ("/v1/apps/relay/workspaces%2F1", []),
    ("/v1/apps/relay//workspaces/1", []),
    ("/v1/apps/relay/workspaces\\..\\1", []),
    ("http://evil.example/v1/apps/relay/workspaces/1", []),
    ("/v1/apps/relay/@2.0.0/workspaces", []),
    ("/v1/apps/relay/workspaces/%C3%A9%20x", []),
]


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


@pytest.mark.parametrize(
    ("who", "version"), [("pinned_v1", "1.0.0"), ("pinned_v2", "2.0.0"), ("latest", "2.0.0")]
)
async def test_a_tenant_reaches_only_its_version(stage: Stage, who: str, version: str) -> None:
    user = getattr(stage, who)
    mine, other = (stage.v1, stage.v2) if version == "1.0.0" else (stage.v2, stage.v1)
    stage.clear()
    for target, extra in TRICKS:
        answer = await rawhttp.send(stage.tenantry, "GET", target, bearer(user.access) + extra)
        if answer.status == 200:
            assert answer.json()["version"] == version, target
            assert answer.headers["x-upstream-version"] == version
        else:
            assert answer.status in (400, 404), (target, answer.status, answer.body)
    assert mine.seen, "the tenant's own version was never reached"
    assert other.seen == [], [r["raw_path"] for r in other.seen]
    # Nothing left the app's routes: the upstream saw only paths under a published prefix.
    assert all(r["path"].startswith(("/workspaces", "//workspaces")) for r in mine.seen)


async def test_the_request_arrives_as_sent(stage: Stage, gateway: httpx.AsyncClient) -> None:
    answer = await gateway.post(
        "/v1/apps/relay/workspaces/7/items?q=a%20b&x=1",
        headers={"Authorization": f"Bearer {stage.pinned_v2.access}", "X-App-Header": "kept"},
        content=b'{"hello": "world"}',
    )
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert seen["method"] == "POST"
    assert seen["raw_path"] == "/workspaces/7/items"
    assert seen["query"] == "q=a%20b&x=1"
    assert seen["body"] == '{"hello": "world"}'
    headers = stage.v2.headers_of(seen)
    assert headers["x-app-header"] == ["kept"]
    for method in ("PUT", "PATCH", "DELETE", "OPTIONS"):
        call = await gateway.request(method, "/v1/apps/relay/threads/1", headers=_auth(stage))
        assert call.json()["method"] == method
    head = await gateway.head("/v1/apps/relay/threads/1", headers=_auth(stage))
    assert head.status_code == 200
    assert head.content == b""


def _auth(stage: Stage) -> dict[str, str]:
    return {"Authorization": f"Bearer {stage.pinned_v2.access}"}


async def test_headers_are_cleaned_both_ways(stage: Stage) -> None:
    sent = [
        *bearer(stage.pinned_v1.access),
        ("Cookie", "session=secret"),
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "admin.internal"),
        ("Forwarded", "for=6.6.6.6;host=admin.internal"),
        ("X-Real-IP", "6.6.6.6"),
        ("X-Tenantry-Assertion", "forged"),
        ("X-Tenantry-Tenant", "someone-else"),
        ("X-Request-Id", "client-chosen-id"),
        ("Connection", "close, X-Drop-Me"),
        ("X-Drop-Me", "1"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Trailer", "X-Late"),
        ("Proxy-Authorization", "Basic c2VjcmV0"),
        ("X-App-Header", "kept"),
    ]
    answer = await rawhttp.send(stage.tenantry, "GET", "/v1/apps/relay/workspaces", sent)
    assert answer.status == 200, answer.body
    headers = stage.v1.headers_of(answer.json())
    for dropped in (
        "authorization", "cookie", "forwarded", "x-real-ip", "x-tenantry-tenant", "x-drop-me",
        "keep-alive", "te", "trailer", "proxy-authorization", "connection",
    ):  # fmt: skip
        assert dropped not in headers, dropped
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-forwarded-host"] == [stage.tenantry.removeprefix("http://")]
    assert headers["x-request-id"] == [answer.headers["x-request-id"]]
    assert headers["x-app-header"] == ["kept"]
    (assertion,) = headers["x-tenantry-assertion"]
    assert assertion != "forged"
    assert headers["host"] != ["evil.example"]
    # The answer: the upstream's hop-by-hop headers (and those its Connection names) are gone.
    for dropped in ("x-secret-hop", "keep-alive", "proxy-authenticate", "upgrade"):
        assert dropped not in answer.headers, dropped
    assert answer.headers["x-upstream-version"] == "1.0.0"


async def test_the_assertion_verifies_with_the_apps_jwks(stage: Stage, gateway) -> None:
    answer = await gateway.get("/v1/apps/relay/workspaces", headers=_auth(stage))
    (assertion,) = stage.v2.headers_of(answer.json())["x-tenantry-assertion"]
    jwks = jwt.PyJWKClient(f"{stage.tenantry}/v1/apps/{APP}/.well-known/jwks.json")
    key = (await asyncio.to_thread(jwks.get_signing_key_from_jwt, assertion)).key
    claims = jwt.decode(
        assertion,
        key,
        algorithms=["EdDSA"],
        audience=f"{APP}@2.0.0",
        issuer=f"{stage.tenantry}/v1/apps/{APP}",
    )
    user = stage.pinned_v2
    assert jwt.get_unverified_header(assertion)["typ"] == "tenantry-gateway-assertion+jwt"
    assert claims["sub"] == user.id
    assert claims["tenant_id"] == str(user.tenant.id)
    assert claims["tenant"] == user.tenant.slug
    assert (claims["app"], claims["version"]) == (APP, "2.0.0")
    assert claims["token_use"] == "gateway-assertion"
    assert "profile" in claims["scope"].split()
    assert isinstance(claims["privileges"], list)
    assert claims["exp"] - claims["iat"] == 60
    assert "act" not in claims
    # Made for 2.0.0: the upstream of 1.0.0 refuses it.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(assertion, key, algorithms=["EdDSA"], audience=f"{APP}@1.0.0")


async def test_an_assertion_is_not_a_bearer_token(stage: Stage, gateway) -> None:
    answer = await gateway.get("/v1/apps/relay/workspaces", headers=_auth(stage))
    (assertion,) = stage.v2.headers_of(answer.json())["x-tenantry-assertion"]
    stage.clear()
    for path in ("/v1/apps/relay/context", "/v1/apps/relay/me", "/v1/apps/relay/x"):
        refused = await gateway.get(path, headers={"Authorization": f"Bearer {assertion}"})
        assert refused.status_code == 401, (path, refused.text)
    assert stage.v1.seen == stage.v2.seen == []


async def test_a_slow_upstream_is_a_504_within_the_route_timeout(stage: Stage, gateway) -> None:
    started = time.monotonic()
    answer = await gateway.get("/v1/apps/relay/slow?seconds=5", headers=_auth(stage))
    elapsed = time.monotonic() - started
    assert answer.status_code == 504
    assert answer.json()["code"] == "upstream_timeout"
    assert elapsed < SLOW_TIMEOUT_MS / 1000 + 1.5


async def test_a_stopped_upstream_is_a_502(stage: Stage, gateway) -> None:
    answer = await gateway.post("/v1/apps/relay/down/x", headers=_auth(stage), content=b"x")
    assert answer.status_code == 502
    assert answer.json()["code"] == "upstream_unavailable"
    assert "Traceback" not in answer.text


async def test_a_big_body_streams_to_the_upstream(stage: Stage, gateway) -> None:
    stage.v1.receiving.clear()

    async def body():
        for n in range(20):
            if n == 10:  # half sent: the upstream must already be reading
                assert await asyncio.to_thread(stage.v1.receiving.wait, 10)
            yield bytes([n]) * MIB

    answer = await gateway.post(
        "/v1/apps/relay/workspaces/upload",
        headers={"Authorization": f"Bearer {stage.pinned_v1.access}"},
        content=body(),
    )
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert seen["size"] == 20 * MIB
    assert seen["chunks"] > 20


async def test_the_answer_streams_to_the_caller(stage: Stage, gateway) -> None:
    stage.v2.release.clear()
    url = "/v1/apps/relay/workspaces/stream"
    async with gateway.stream("GET", url, headers=_auth(stage)) as answer:
        chunks = answer.aiter_raw()
        first = await asyncio.wait_for(anext(chunks), 10)  # before the upstream has finished
        stage.v2.release.set()
        rest = b"".join([chunk async for chunk in chunks])
    assert first + rest == b"first;second"


async def test_nothing_reaches_an_upstream_without_a_caller(stage: Stage, gateway) -> None:
    assert (await gateway.get("/v1/apps/relay/workspaces")).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await gateway.get("/v1/apps/relay/workspaces", headers=bad)).status_code == 401
    other = {"Authorization": f"Bearer {stage.other_app.access}"}
    mismatch = await gateway.get("/v1/apps/relay/workspaces", headers=other)
    assert mismatch.status_code == 403
    assert mismatch.json()["code"] == "app_mismatch"
    assert stage.v1.seen == stage.v2.seen == []


async def test_tenantry_routes_win(stage: Stage, gateway) -> None:
    context = await gateway.get("/v1/apps/relay/context", headers=_auth(stage))
    assert context.status_code == 200
    assert "version" not in context.json()
    # A Tenantry path with another method is Tenantry's 405, not the upstream's.
    assert (await gateway.delete("/v1/apps/relay/context", headers=_auth(stage))).status_code == 405
    unrouted = await gateway.get("/v1/apps/relay/no-such-prefix", headers=_auth(stage))
    assert unrouted.status_code == 404
    assert unrouted.json()["code"] == "not_found"
    assert stage.v1.seen == stage.v2.seen == []
    paths = (await gateway.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if "{path" in p]


async def test_a_disabled_app_answers_its_problem(db, stage: Stage, gateway) -> None:
    tenant = await make_tenant(db, APP)
    user = await signed_in(gateway, APP, tenant, "off@example.com")
    url = "/v1/apps/relay/workspaces/1"
    first = await gateway.get(url, headers=user.auth)
    assert first.status_code == 200, first.text
    await services_for(db).tenant_apps.disable(tenant.slug, APP, by=FIXTURES, reason="tests")
    stage.clear()
    for _ in range(150):  # the server drops its cached tenant when the change is announced
        answer = await gateway.get(url, headers=user.auth)
        if answer.status_code != 200:
            break
        await asyncio.sleep(0.1)
    assert answer.json()["code"] == "app_disabled", answer.text
    assert stage.v1.seen == stage.v2.seen == []


async def test_the_assertion_names_who_acts_for_the_user(db, stage: Stage, gateway) -> None:
    tenant = await make_tenant(db, APP, "admin")
    target = await signed_in(gateway, APP, tenant, "target@example.com")
    admin = await tenant_admin(gateway, db, tenant, "root@example.com")
    await services_for(db).settings_admin.set(
        tenant.slug, "impersonation_enabled", True, by=FIXTURES, reason="tests"
    )
    started = await gateway.post(
        "/v1/apps/admin/impersonations",
        headers=admin.auth,
        json={"app": APP, "email": target.email, "reason": "ticket 4711"},
    )
    assert started.status_code == 201, started.text
    token = started.json()["token"]["access_token"]
    answer = await gateway.get(
        "/v1/apps/relay/workspaces", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    (assertion,) = stage.v2.headers_of(answer.json())["x-tenantry-assertion"]
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert claims["sub"] == target.id
    assert claims["act"] == {
        "sub": admin.id,
        "tenant_id": str(tenant.id),
        "mode": "impersonation",
        "ro": True,
    }


async def test_a_session_ended_here_stops_at_once(db, stage: Stage, gateway) -> None:
    """The gateway trusts a session it saw live for a few seconds; ending it through Tenantry
    makes the very next call fail."""
    tenant = await make_tenant(db, APP)
    user = await signed_in(gateway, APP, tenant, "leaving@example.com")
    url = "/v1/apps/relay/workspaces/1"
    for _ in range(3):  # seen live, then trusted
        assert (await gateway.get(url, headers=user.auth)).status_code == 200
    logout = await gateway.post(f"/v1/apps/{APP}/auth/logout", headers=user.auth)
    assert logout.status_code == 204, logout.text
    stage.clear()
    answer = await gateway.get(url, headers=user.auth)
    assert answer.status_code == 401, answer.text
    assert stage.v1.seen == stage.v2.seen == []


async def test_a_session_ended_by_any_statement_stops_within_milliseconds(
    db, urls, stage: Stage, gateway
) -> None:
    """An operator's own statement, through no Tenantry code: the sessions table's trigger
    announces it, and the gateway stops trusting the session long before its recheck window
    (`gateway_session_recheck_seconds`, 5 s)."""
    tenant = await make_tenant(db, APP)
    user = await signed_in(gateway, APP, tenant, "revoked@example.com")
    url = "/v1/apps/relay/workspaces/1"
    for _ in range(3):
        assert (await gateway.get(url, headers=user.auth)).status_code == 200
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        ended = conn.execute(
            "UPDATE tenantry.sessions SET revoked_at = now() WHERE tenant_id = %s",
            [tenant.id],
        ).rowcount
    assert ended == 1
    started = time.monotonic()
    statuses = []
    while time.monotonic() - started < 3:
        statuses.append((await gateway.get(url, headers=user.auth)).status_code)
        if statuses[-1] != 200:
            break
    assert statuses[-1] == 401, statuses
    assert time.monotonic() - started < 1, f"still trusted after {len(statuses)} calls"
