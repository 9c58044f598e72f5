"""Login through an external OIDC issuer that the test serves over real HTTP on loopback: the
tenant administrator trusts it, identities link by (issuer, subject), and the JWKS cache is
bounded, refetches on rotation and connects only to the public address it checked."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tenantry.identity.external import JwksCache
from tenantry.identity.models import ExternalIssuer
from tenantry.kit.ids import uuid7
from tests.support.accounts import signed_in


class Issuer:
    """A minimal OIDC issuer: its own RSA keys, its JWKS served over HTTP on loopback."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "ext-1"
        self.jwks_requests = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.jwks_requests += 1
                public = jwt.algorithms.RSAAlgorithm.to_jwk(issuer.key.public_key(), as_dict=True)
                body = json.dumps(
                    {"keys": [{**public, "kid": issuer.kid, "alg": "RS256", "use": "sig"}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(
        self,
        sub: str,
        email: str,
        *,
        aud: str = "tenantry-thinktank",
        kid: str | None = None,
        key=None,
        **extra,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": aud,
            "sub": sub,
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + 300,
            **extra,
        }
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    yield server
    server.server.shutdown()
    server.server.server_close()


async def trust_issuer(client, admin, issuer: Issuer):
    return await client.post(
        "/v1/apps/admin/external-issuers",
        headers=admin.auth,
        json={
            "app": "thinktank",
            "issuer": issuer.url,
            "audience": "tenantry-thinktank",
            "jwks_uri": f"{issuer.url}/jwks",
        },
    )


async def test_external_oidc_login_links_and_reuses_identity(
    client, tenant, admin, issuer: Issuer
) -> None:
    trust = await trust_issuer(client, admin, issuer)
    assert trust.status_code == 201, trust.text

    async def exchange(token: str):
        return await client.post(
            "/v1/apps/thinktank/auth/external", json={"tenant": tenant.slug, "id_token": token}
        )

    first = await exchange(issuer.token("ext-user-1", "federated@example.com"))
    assert first.status_code == 200, first.text
    me = (
        await client.get(
            "/v1/apps/thinktank/me",
            headers={"Authorization": f"Bearer {first.json()['access_token']}"},
        )
    ).json()
    assert me["email"] == "federated@example.com"
    assert me["email_verified"] is True
    second = await exchange(issuer.token("ext-user-1", "changed@example.com"))
    again = (
        await client.get(
            "/v1/apps/thinktank/me",
            headers={"Authorization": f"Bearer {second.json()['access_token']}"},
        )
    ).json()
    assert again["id"] == me["id"]  # linked by (issuer, subject), not by the email claim
    assert issuer.jwks_requests == 1  # cached

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "wrong-audience": issuer.token("ext-user-1", "x@example.com", aud="someone-else"),
        "forged-same-kid": issuer.token("ext-user-1", "x@example.com", key=other_key),
        "unknown-kid": issuer.token("ext-user-1", "x@example.com", kid="ext-2"),
        "expired": issuer.token("ext-user-1", "x@example.com", exp=int(time.time()) - 600),
        "unverified-email": issuer.token("ext-user-9", "new@example.com", email_verified=False),
    }
    for name, token in refused.items():
        response = await exchange(token)
        assert response.status_code == 401, (name, response.text)
    # Unknown kids right after a fetch do not reach the issuer again (bounded refetch).
    assert issuer.jwks_requests == 1
    # An issuer vouching for the email of an existing local account does not get it.
    local = await signed_in(client, "thinktank", tenant, "local@example.com")
    takeover = await exchange(issuer.token("ext-user-2", local.email))
    assert takeover.status_code == 409
    # The same issuer is not trusted by another app of the tenant.
    other_app = await client.post(
        "/v1/apps/launchboard/auth/external",
        json={"tenant": tenant.slug, "id_token": issuer.token("ext-user-1", "x@example.com")},
    )
    assert other_app.status_code == 401
    # Only tenant administrators configure issuers.
    user = await signed_in(client, "thinktank", tenant, "plain@example.com")
    denied = await client.post(
        "/v1/apps/thinktank/external-issuers",
        headers=user.auth,
        json={
            "app": "thinktank",
            "issuer": "http://x.example",
            "audience": "a",
            "jwks_uri": "http://x.example/jwks",
        },
    )
    assert denied.status_code == 404


async def test_jwks_cache_refetches_on_rotation_but_bounded(issuer: Issuer) -> None:
    config = ExternalIssuer(
        uuid7(), issuer.url, "tenantry-thinktank", f"{issuer.url}/jwks", ["RS256"]
    )
    cache = JwksCache(refetch_seconds=0.2, allow_private=True)
    try:
        assert (await cache.verify(issuer.token("s1", "a@example.com"), config, 5)).subject == "s1"
        # The issuer rotates to a new key; tokens with the new kid are accepted after a refetch.
        issuer.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        issuer.kid = "ext-2"
        await asyncio.sleep(0.25)
        assert (await cache.verify(issuer.token("s2", "b@example.com"), config, 5)).subject == "s2"
        assert issuer.jwks_requests == 2
        # A flood of made-up kids inside the interval costs at most one request.
        for n in range(20):
            with pytest.raises(Exception, match="unknown external signing key"):
                await cache.verify(issuer.token("s3", "c@example.com", kid=f"junk-{n}"), config, 5)
        assert issuer.jwks_requests == 2
    finally:
        await cache.close()


async def test_private_jwks_addresses_are_refused_by_default(issuer: Issuer) -> None:
    config = ExternalIssuer(
        uuid7(), issuer.url, "tenantry-thinktank", f"{issuer.url}/jwks", ["RS256"]
    )
    cache = JwksCache()
    try:
        with pytest.raises(Exception, match="https"):
            await cache.verify(issuer.token("s1", "a@example.com"), config, 5)
        https_private = ExternalIssuer(
            uuid7(), issuer.url, "a", "https://127.0.0.1:9/jwks", ["RS256"]
        )
        with pytest.raises(Exception, match="public address"):
            await cache.verify(issuer.token("s1", "a@example.com"), https_private, 5)
    finally:
        await cache.close()
    assert issuer.jwks_requests == 0


async def test_issuer_emails_are_normalised_before_the_duplicate_check(
    client, tenant, admin, issuer: Issuer
) -> None:
    trust = await trust_issuer(client, admin, issuer)
    assert trust.status_code == 201
    local = await signed_in(client, "thinktank", tenant, "spaced@example.com")

    async def exchange(sub: str, email: str):
        return await client.post(
            "/v1/apps/thinktank/auth/external",
            json={"tenant": tenant.slug, "id_token": issuer.token(sub, email)},
        )

    for n, variant in enumerate(
        (" spaced@example.com ", "SPACED@Example.com", "\tspaced@example.com")
    ):
        answer = await exchange(f"ext-{n}", variant)
        assert answer.status_code == 409, (variant, answer.text)
    for n, invalid in enumerate(("two words@example.com", "no-at-sign", "a@b@example.com", "")):
        answer = await exchange(f"bad-{n}", invalid)
        assert answer.status_code == 401, (invalid, answer.text)
    created = await exchange("ext-new", "  newcomer@example.com ")
    assert created.status_code == 200
    me = await client.get(
        "/v1/apps/thinktank/me",
        headers={"Authorization": f"Bearer {created.json()['access_token']}"},
    )
    assert me.json()["email"] == "newcomer@example.com"
    people = await client.get(
        "/v1/apps/admin/people", headers=admin.auth, params={"email": local.email}
    )
    assert [p["email"] for p in people.json()] == [local.email]


async def test_jwks_fetch_connects_to_the_address_it_checked() -> None:
    """DNS rebinding: the name resolves to a public address when checked and to loopback
    when the HTTP client would resolve it again. The fetch must go to the checked address;
    the loopback listener must see no connection at all."""
    connections = 0

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    listener = await asyncio.start_server(count, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    checked: list[str] = []

    async def rebinding_resolver(host: str, resolved_port: int) -> list[str]:
        checked.append(host)
        return ["192.0.43.10"]  # public; the system resolver says loopback for localhost

    config = ExternalIssuer(
        uuid7(), "https://localhost", "aud", f"https://localhost:{port}/jwks", ["HS256"]
    )
    cache = JwksCache(
        httpx.AsyncClient(timeout=0.5, follow_redirects=False), resolver=rebinding_resolver
    )
    try:
        token = jwt.encode({"iss": "https://localhost"}, "k" * 32, headers={"kid": "x"})
        with pytest.raises(Exception, match="unavailable"):
            await cache.verify(token, config, 5)
    finally:
        await cache.close()
        listener.close()
        await listener.wait_closed()
    assert checked == ["localhost"]
    assert connections == 0
