"""Trusting an external OIDC issuer per app (Cognito, Auth0, Keycloak, …).

The issuer's JWKS is fetched over HTTP and cached. An unknown `kid` triggers a refetch, at most
once per `REFETCH_SECONDS` per issuer, so a flood of tokens with made-up kids cannot turn into a
flood of requests to the issuer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import jwt

from tenantry.kit.errors import Unauthorized
from tenantry.kit.outbound import RefusedDestination, pin, system_resolver

if TYPE_CHECKING:
    from tenantry.identity.models import ExternalIssuer
    from tenantry.kit.outbound import PinnedRequest, Resolver


CACHE_SECONDS = 600.0
REFETCH_SECONDS = 30.0
FETCH_TIMEOUT_SECONDS = 5.0
MAX_JWKS_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    issuer: str
    subject: str
    email: str | None
    email_verified: bool


def unverified_issuer(token: str) -> str:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise Unauthorized("malformed external token") from exc
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise Unauthorized("external token has no issuer")
    return issuer


class JwksCache:
    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        refetch_seconds: float = REFETCH_SECONDS,
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._client = client or httpx.AsyncClient(
            timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False
        )
        self._refetch_seconds = refetch_seconds
        self._allow_private = allow_private
        self._resolve = resolver
        self._keys: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}
        self._last_fetch: dict[str, float] = {}

    async def close(self) -> None:
        await self._client.aclose()

    async def _pinned(self, uri: str) -> PinnedRequest:
        """A tenant administrator chooses this URI, so the server must not become their probe
        into private networks: HTTPS to public addresses only, unless explicitly allowed."""
        try:
            return await pin(uri, allow_private=self._allow_private, resolver=self._resolve)
        except RefusedDestination as exc:
            raise Unauthorized(f"external issuer keys refused: {exc}") from exc

    async def _fetch(self, uri: str) -> dict[str, jwt.PyJWK]:
        self._last_fetch[uri] = time.monotonic()
        pinned = await self._pinned(uri)
        try:
            response = await self._client.get(
                pinned.url, headers=pinned.headers, extensions=pinned.extensions
            )
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise Unauthorized("external JWKS too large")
            document: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unauthorized("external issuer keys unavailable") from exc
        keys: dict[str, jwt.PyJWK] = {}
        for data in document.get("keys", []):
            try:
                key = jwt.PyJWK(data)
            except jwt.PyJWTError:
                continue  # unsupported key types are skipped, not fatal
            if key.key_id:
                keys[key.key_id] = key
        self._keys[uri] = (time.monotonic(), keys)
        return keys

    async def key(self, uri: str, kid: str) -> jwt.PyJWK | None:
        cached = self._keys.get(uri)
        now = time.monotonic()
        if cached is None or now - cached[0] > CACHE_SECONDS:
            keys = await self._fetch(uri)
        else:
            keys = cached[1]
        if kid not in keys and now - self._last_fetch.get(uri, 0.0) > self._refetch_seconds:
            keys = await self._fetch(uri)
        return keys.get(kid)

    async def verify(self, token: str, issuer: ExternalIssuer, skew: int) -> ExternalIdentity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed external token") from exc
        kid = header.get("kid")
        if not isinstance(kid, str) or header.get("alg") not in issuer.algorithms:
            raise Unauthorized("external token algorithm or key not allowed")
        key = await self.key(issuer.jwks_uri, kid)
        if key is None:
            raise Unauthorized("unknown external signing key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(issuer.algorithms),
                audience=issuer.audience,
                issuer=issuer.issuer,
                leeway=skew,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid external token: {exc}") from exc
        email = claims.get("email")
        return ExternalIdentity(
            issuer=issuer.issuer,
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) else None,
            email_verified=claims.get("email_verified") is True,
        )
