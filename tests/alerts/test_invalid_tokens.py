"""Refused bearer tokens feed the invalid-token rule: forged, malformed or unknown tokens are
recorded for the operators' tenant with the caller's address (never the token), within a
per-address budget; an expired token of ours is not; a burst from one address raises one alert,
mailed to the operators' administrators."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import TYPE_CHECKING

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tenantry.identity.authentication import REFUSALS_PER_SOURCE
from tenantry.identity.mail import newest
from tenantry.security_events.budget import RecordBudget
from tests.support.accounts import login
from tests.support.http import client_for

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tests.support.accounts import User

ROUTE = "/v1/apps/admin/alerts"
RULE = "invalid_token_burst"


def _address() -> str:
    """An address of the benchmarking range no other test sends from."""
    n = secrets.randbelow(250 * 250)
    return f"198.18.{n // 250}.{n % 250 + 1}"


def _client_from(app: FastAPI, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _away_from_a_window_edge(window_seconds: int, margin: float) -> None:
    """Wait out the end of the current fixed window if it is near, so a short burst lands in
    one window (the database's clock is this machine's)."""
    left = window_seconds - time.time() % window_seconds
    if left < margin:
        await asyncio.sleep(left + 0.5)


async def _real_token(control_app: FastAPI, operator: User) -> str:
    async with client_for(control_app) as c:
        response = await login(c, operator)
    token: str = response.json()["access_token"]
    return token


def _forgeries(token: str) -> list[str]:
    """A forged signature over a known key id, a made-up key id, junk, and a junk API token."""
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    stranger = Ed25519PrivateKey.generate()
    return [
        jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": header["kid"]}),
        jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": "no-such-key"}),
        "not-a-token",
        "tenantry_pat_not-a-real-one",
    ]


def _expired(control_app: FastAPI, token: str) -> str:
    """A token of ours, properly signed, past its time (with the clock skew)."""
    services = control_app.state.services
    claims = jwt.decode(token, options={"verify_signature": False})
    key = services.keys.signing_key(services.apps.by_slug("admin").id)
    past = int(time.time()) - 3600
    claims |= {"iat": past, "nbf": past, "exp": past + 60, "auth_time": past}
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})


async def _send(client: httpx.AsyncClient, tokens: list[str]) -> None:
    for token in tokens:
        response = await client.get(ROUTE, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.text


async def _recorded_from(control_app: FastAPI, operator: User, ip: str) -> list:
    services = control_app.state.services
    events = await services.events.search(operator.tenant.id, kind="invalid_token", limit=500)
    return [e for e in events if e.ip == ip]


async def test_forged_tokens_from_one_address_raise_one_alert_mailed_to_operators(
    control_app, db, operator
) -> None:
    services = control_app.state.services
    token = await _real_token(control_app, operator)
    forged = _forgeries(token)
    await _away_from_a_window_edge(300, margin=60)
    ip = _address()
    async with _client_from(control_app, ip) as client:
        await _send(client, [forged[i % len(forged)] for i in range(25)])
    recorded = await _recorded_from(control_app, operator, ip)
    assert len(recorded) == 25
    assert {e.detail["reason"] for e in recorded} == {
        "bad_signature",
        "unknown_key",
        "malformed",
        "malformed_api_token",
    }
    assert {e.tenant_slug for e in recorded} == {operator.tenant.slug}
    assert all(t not in str(e.detail) for e in recorded for t in forged)
    alerts = await services.alerts.search(operator.tenant.id, rule=RULE, limit=500)
    [alert] = [a for a in alerts if a.source == ip]
    assert (alert.occurrences, alert.threshold, alert.status) == (25, 20, "open")
    mails = [
        m
        for m in await newest(db, 2000)
        if m["to_address"] == operator.email and f"from {ip}:" in m["body"]
    ]
    assert [m["subject"] for m in mails] == [
        "[warning] Many invalid or forged tokens from one address"
    ]


async def test_an_expired_token_of_ours_is_no_security_event(control_app, operator) -> None:
    expired = _expired(control_app, await _real_token(control_app, operator))
    ip = _address()
    async with _client_from(control_app, ip) as client:
        await _send(client, [expired] * 3)
    assert await _recorded_from(control_app, operator, ip) == []


async def test_one_address_records_at_most_its_budget_a_minute(control_app, operator) -> None:
    await _away_from_a_window_edge(60, margin=20)
    ip = _address()
    async with _client_from(control_app, ip) as client:
        await _send(client, ["not-a-token"] * (REFUSALS_PER_SOURCE + 10))
    assert len(await _recorded_from(control_app, operator, ip)) == REFUSALS_PER_SOURCE


def test_the_budget_bounds_each_source_and_all_of_them_per_minute() -> None:
    now = [120.0]
    budget = RecordBudget(per_source=2, overall=3, clock=lambda: now[0])
    assert [budget.admit("a") for _ in range(3)] == [True, True, False]
    assert [budget.admit("b"), budget.admit("c")] == [True, False]  # the overall bound
    now[0] += 60  # a new minute: everyone starts again
    assert [budget.admit("c"), budget.admit("a")] == [True, True]
