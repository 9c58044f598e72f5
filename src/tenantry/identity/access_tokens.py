"""Access tokens: short-lived EdDSA JWTs, one issuer and audience per app."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import jwt

from tenantry.identity.principal import Acting, ActingMode, Scope
from tenantry.kit.errors import Unauthorized
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from tenantry.identity.keys import KeyRing

# Verified tokens are remembered by their exact text until they expire: clients reuse an access
# token for many requests, and signature checks are most of the cost of authenticating one.
CACHE_LIMIT = 10_000
REQUIRED_CLAIMS = (
    "iss",
    "aud",
    "sub",
    "exp",
    "nbf",
    "iat",
    "jti",
    "tenant_id",
    "app_id",
    "sid",
    "auth_time",
)
ACCESS = "access"
MFA_CHALLENGE = "mfa_challenge"
# The `amr` of a session opened by a token exchange (RFC 8693): no credential of its own.
EXCHANGE = "exchange"


class TokenRefused(Unauthorized):
    """A bearer token that is not a valid one of ours: malformed, signed by no key we know, a
    bad signature, wrong claims or the wrong type. Unlike a token of ours past its time (plain
    `Unauthorized`, what every client meets), it is worth a security event. `reason` is a short
    fixed code for the record; it never quotes the token."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    tenant_id: UUID
    app_id: UUID
    app_user_id: UUID
    session_id: UUID
    amr: tuple[str, ...]
    # When the user last signed in interactively (OIDC `auth_time`); refreshes keep it.
    auth_time: int
    # Someone acting for the user (RFC 8693 `act`): `session_id` is then the grant's id.
    acting: Acting | None = None
    # The scopes of an acting token, fixed when it was issued.
    scopes: frozenset[Scope] = frozenset()


def _act_claim(acting: Acting) -> dict[str, Any]:
    return {
        "sub": str(acting.actor_user_id),
        "tenant_id": str(acting.actor_tenant_id),
        "mode": acting.mode.value,
        "ro": acting.read_only,
    }


def _acting_from(claims: dict[str, Any]) -> Acting | None:
    act = claims.get("act")
    if act is None:
        return None
    if not isinstance(act, dict):
        raise TypeError("act must be an object")
    return Acting(
        mode=ActingMode(act["mode"]),
        actor_user_id=UUID(act["sub"]),
        actor_tenant_id=UUID(act["tenant_id"]),
        grant_id=UUID(claims["sid"]),
        read_only=bool(act["ro"]),
    )


def _refusal(exc: jwt.PyJWTError) -> Unauthorized:
    if isinstance(exc, jwt.ExpiredSignatureError | jwt.ImmatureSignatureError):
        # Checked only once the signature holds: our own token, outside its time.
        return Unauthorized(f"invalid token: {exc}")
    if isinstance(exc, jwt.InvalidSignatureError):
        return TokenRefused(f"invalid token: {exc}", "bad_signature")
    if isinstance(exc, jwt.DecodeError):
        return TokenRefused(f"invalid token: {exc}", "malformed")
    return TokenRefused(f"invalid token: {exc}", "invalid_claims")


def issuer(public_url: str, app_slug: str) -> str:
    return f"{public_url.rstrip('/')}/v1/apps/{app_slug}"


class TokenService:
    def __init__(self, keys: KeyRing, public_url: str, ttl_seconds: int, skew_seconds: int) -> None:
        self._keys = keys
        self._public_url = public_url
        self._ttl = ttl_seconds
        self._skew = skew_seconds
        self._verified: dict[tuple[str, str], tuple[int, int, VerifiedToken]] = {}

    def issue(
        self,
        *,
        app_id: UUID,
        app_slug: str,
        tenant_id: UUID,
        app_user_id: UUID,
        session_id: UUID,
        amr: tuple[str, ...],
        auth_time: int | None = None,
        use: str = ACCESS,
        ttl_seconds: int | None = None,
        acting: Acting | None = None,
        scopes: frozenset[Scope] = frozenset(),
    ) -> tuple[str, int]:
        key = self._keys.signing_key(app_id)
        now = int(time.time())
        ttl = ttl_seconds or self._ttl
        claims: dict[str, Any] = {
            "iss": issuer(self._public_url, app_slug),
            "aud": app_slug,
            "sub": str(app_user_id),
            "tenant_id": str(tenant_id),
            "app_id": str(app_id),
            "sid": str(session_id),
            "amr": list(amr),
            "auth_time": now if auth_time is None else auth_time,
            "token_use": use,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": str(uuid7()),
        }
        if acting is not None:
            claims["act"] = _act_claim(acting)
            claims["scope"] = " ".join(sorted(scopes))
        token = jwt.encode(
            claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid}
        )
        return token, ttl

    async def verify(
        self, token: str, app_slugs: dict[UUID, str], use: str = ACCESS
    ) -> VerifiedToken:
        """Verify against the key named by `kid`, as a token of that key's own app.

        The caller compares the token's app with the route's app; doing it after verification
        means a mismatch is a proven misuse worth a security event, not noise.
        """
        cached = self._verified.get((use, token))
        if cached and cached[0] == self._keys.generation and cached[1] > time.time():
            return cached[2]
        verified, expires = await self._verify(token, app_slugs, use)
        if len(self._verified) >= CACHE_LIMIT:
            self._verified.clear()
        self._verified[(use, token)] = (self._keys.generation, expires, verified)
        return verified

    async def _verify(
        self, token: str, app_slugs: dict[UUID, str], use: str
    ) -> tuple[VerifiedToken, int]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRefused("malformed token", "malformed") from exc
        kid = header.get("kid")
        key = await self._keys.find(kid) if isinstance(kid, str) and len(kid) <= 64 else None  # noqa: PLR2004 - longer kids are junk
        if key is None:
            raise TokenRefused("unknown signing key", "unknown_key")
        app_slug = app_slugs.get(key.app_id)
        if app_slug is None:
            raise TokenRefused("unknown app", "unknown_key")
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=[key.algorithm],
                audience=app_slug,
                issuer=issuer(self._public_url, app_slug),
                leeway=self._skew,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.PyJWTError as exc:
            raise _refusal(exc) from exc
        if claims.get("token_use") != use:
            raise TokenRefused("wrong token type", "wrong_type")
        try:
            verified = VerifiedToken(
                tenant_id=UUID(claims["tenant_id"]),
                app_id=UUID(claims["app_id"]),
                app_user_id=UUID(claims["sub"]),
                session_id=UUID(claims["sid"]),
                amr=tuple(claims.get("amr") or ()),
                auth_time=int(claims["auth_time"]),
                acting=_acting_from(claims),
                scopes=frozenset(Scope(s) for s in str(claims.get("scope", "")).split()),
            )
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise TokenRefused("invalid token claims", "invalid_claims") from exc
        if verified.app_id != key.app_id:
            raise TokenRefused("token app does not match its signing key", "invalid_claims")
        return verified, int(claims["exp"]) + self._skew
