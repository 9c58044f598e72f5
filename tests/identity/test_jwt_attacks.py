"""Every way to present a bad access token is refused with 401 problem+json (or 403 for a
proven cross-app or cross-tenant misuse, which is also recorded as a security event)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from uuid import UUID

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tenantry.identity.access_tokens import issuer
from tests.support.accounts import make_tenant, signed_in


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _header(token: str) -> dict:
    return jwt.get_unverified_header(token)


@pytest.fixture
async def victim(client, tenant):
    return await signed_in(client, "thinktank", tenant, "victim@example.com")


def _resign(app, claims: dict, original: str, *, kid: str | None = None) -> str:
    """Sign with the real key of the original token's app: only the claims are wrong."""
    key = app.state.services.keys.signing_key(UUID(_claims(original)["app_id"]))
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": kid or key.kid})


async def _me(client, token: str, app: str = "thinktank", **headers: str):
    return await client.get(
        f"/v1/apps/{app}/me", headers={"Authorization": f"Bearer {token}", **headers}
    )


def _alg_none(app, token):
    claims = _claims(token)
    return f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': _header(token)['kid']})}.{_b64(claims)}."


def _hs256_with_public_key(app, token):
    # Key confusion: sign with HMAC using the published public key as the secret.
    key = app.state.services.keys.signing_key(UUID(_claims(token)["app_id"]))
    public = key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": key.kid})
    body = _b64(_claims(token))
    sig = hmac.new(public, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{base64.urlsafe_b64encode(sig).decode().rstrip('=')}"


def _foreign_key(app, token):
    # Right kid, but signed by a key the server never issued.
    return jwt.encode(
        _claims(token),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": _header(token)["kid"]},
    )


def _with(**changes):
    def make(app, token):
        return _resign(app, {**_claims(token), **changes}, token)

    return make


def _without(claim):
    def make(app, token):
        claims = _claims(token)
        claims.pop(claim)
        return _resign(app, claims, token)

    return make


def _tamper_payload(app, token):
    header, _, signature = token.split(".")
    claims = {**_claims(token), "sub": "00000000-0000-7000-8000-000000000000"}
    return f"{header}.{_b64(claims)}.{signature}"


ATTACKS = {
    "alg-none": _alg_none,
    "hs256-key-confusion": _hs256_with_public_key,
    "unknown-kid": lambda app, t: _resign(app, _claims(t), t, kid="no-such-key"),
    "injected-kid-path": lambda app, t: _resign(app, _claims(t), t, kid="../../etc/passwd"),
    "injected-kid-sql": lambda app, t: _resign(app, _claims(t), t, kid="x' OR '1'='1"),
    "foreign-key-same-kid": _foreign_key,
    "expired": _with(
        exp=int(time.time()) - 3600, iat=int(time.time()) - 4000, nbf=int(time.time()) - 4000
    ),
    "not-yet-valid": _with(nbf=int(time.time()) + 3600),
    "wrong-issuer": _with(iss="https://evil.example/v1/apps/thinktank"),
    "wrong-audience": _with(aud="launchboard"),
    "missing-tenant": _without("tenant_id"),
    "missing-sid": _without("sid"),
    "missing-sub": _without("sub"),
    "missing-exp": _without("exp"),
    "missing-jti": _without("jti"),
    "tampered-payload": _tamper_payload,
    "garbage": lambda app, t: "not.a.jwt",
    "mfa-challenge-as-access": _with(token_use="mfa_challenge"),
    "claims-app-differs-from-key": _with(app_id="00000000-0000-7000-8000-000000000001"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_forged_or_broken_tokens_are_refused(client, app, victim, attack: str) -> None:
    assert (await _me(client, victim.access)).status_code == 200
    forged = ATTACKS[attack](app, victim.access)
    response = await _me(client, forged)
    assert response.status_code == 401, (attack, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthorized"
    assert "www-authenticate" in response.headers


async def test_token_for_app_a_on_app_b_is_403_and_recorded(client, db, tenant, victim) -> None:
    response = await _me(client, victim.access, app="launchboard")
    assert response.status_code == 403
    assert response.json()["code"] == "app_mismatch"
    events = await _events(db, tenant.id, "app_mismatch")
    assert [e["detail"]["route_app"] for e in events] == ["launchboard"]


async def test_tenant_named_in_a_header_must_match_the_token(client, db, tenant, victim) -> None:
    other = await make_tenant(db, "thinktank")
    ok = await _me(client, victim.access, **{"X-Tenant-Id": str(tenant.id)})
    assert ok.status_code == 200
    response = await _me(client, victim.access, **{"X-Tenant-Id": str(other.id)})
    assert response.status_code == 403
    assert response.json()["code"] == "tenant_mismatch"
    assert len(await _events(db, tenant.id, "tenant_mismatch")) == 1


async def test_token_from_another_tenant_sees_only_its_own_tenant(client, db, victim) -> None:
    other = await make_tenant(db, "thinktank")
    stranger = await signed_in(client, "thinktank", other, "victim@example.com")
    mine = (await _me(client, victim.access)).json()
    theirs = (await _me(client, stranger.access)).json()
    assert mine["tenant_id"] != theirs["tenant_id"]
    assert mine["id"] != theirs["id"]
    # Another tenant's session id is "not found" for this user, never revocable.
    sessions = (await client.get("/v1/apps/thinktank/sessions", headers=stranger.auth)).json()
    response = await client.delete(
        f"/v1/apps/thinktank/sessions/{sessions[0]['id']}", headers=victim.auth
    )
    assert response.status_code == 404
    assert (await _me(client, stranger.access)).status_code == 200


async def test_refresh_token_replay_revokes_the_session_family(client, db, tenant, victim) -> None:
    first = await client.post(
        "/v1/apps/thinktank/auth/refresh", json={"refresh_token": victim.refresh}
    )
    assert first.status_code == 200
    rotated = first.json()
    replay = await client.post(
        "/v1/apps/thinktank/auth/refresh", json={"refresh_token": victim.refresh}
    )
    assert replay.status_code == 401
    # Every token of the family is dead now, the thief's and the holder's alike.
    again = await client.post(
        "/v1/apps/thinktank/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert again.status_code == 401
    assert (await _me(client, rotated["access_token"])).status_code == 401
    assert (await _me(client, victim.access)).status_code == 401
    events = await _events(db, tenant.id, "refresh_token_reuse")
    assert [e["severity"] for e in events] == ["critical"]


async def test_revoked_session_token_is_refused_at_once(client, tenant, victim) -> None:
    second = await client.post(
        "/v1/apps/thinktank/auth/login",
        json={"tenant": tenant.slug, "email": victim.email, "password": victim.password},
    )
    second_auth = {"Authorization": f"Bearer {second.json()['access_token']}"}
    sessions = (await client.get("/v1/apps/thinktank/sessions", headers=second_auth)).json()
    assert len(sessions) == 2
    first_session = next(s for s in sessions if not s["current"])
    revoked = await client.delete(
        f"/v1/apps/thinktank/sessions/{first_session['id']}", headers=second_auth
    )
    assert revoked.status_code == 204
    # The first session's access token has not expired, but its session has: refused now.
    assert (await _me(client, victim.access)).status_code == 401
    assert (await client.get("/v1/apps/thinktank/me", headers=second_auth)).status_code == 200


async def test_discovery_documents(client) -> None:
    config = (await client.get("/v1/apps/thinktank/.well-known/openid-configuration")).json()
    assert config["issuer"] == issuer("http://testserver", "thinktank")
    jwks = (await client.get("/v1/apps/thinktank/.well-known/jwks.json")).json()
    assert all(k["kty"] == "OKP" and k["alg"] == "EdDSA" and "d" not in k for k in jwks["keys"])
    other = (await client.get("/v1/apps/launchboard/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]}.isdisjoint({k["kid"] for k in other["keys"]})


async def _events(db, tenant_id, kind):
    async with db.platform_transaction() as tx:
        return await tx.fetch_all(
            "SELECT kind, severity, detail FROM tenantry.security_events WHERE tenant_id = %s AND kind = %s ORDER BY id",
            [tenant_id, kind],
        )
