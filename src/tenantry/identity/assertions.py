"""Gateway assertions: who is calling, signed for an app's upstream by the app's own key.

The gateway (`http/gateway.py`) hands each forwarded request's verified principal to the
upstream as a short-lived EdDSA JWT in `X-Tenantry-Assertion`. It is signed with the same keys
as the app's access tokens, so the upstream verifies it with the app's published JWKS, but it
can never stand in for an access token: its `typ` header and `token_use` claim name it a gateway
assertion, its audience is `<app>@<version>` (never the bare app slug an access token carries)
and it has no session (`sid`), all of which the access-token check requires.
"""

from __future__ import annotations

import base64
import json
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tenantry.identity.access_tokens import issuer
from tenantry.identity.keys import ALGORITHM
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tenantry.identity.keys import KeyRing
    from tenantry.identity.principal import Principal

ASSERTION_TYPE = "tenantry-gateway-assertion+jwt"
ASSERTION_USE = "gateway-assertion"
ASSERTION_TTL_SECONDS = 60


def assertion_audience(app_slug: str, version: str) -> str:
    """What the upstream of `version` expects in `aud`: an assertion for one version of an app
    is not accepted by another version's upstream."""
    return f"{app_slug}@{version}"


class GatewayAssertions:
    def __init__(self, keys: KeyRing, public_url: str) -> None:
        self._keys = keys
        self._public_url = public_url

    def issue(self, principal: Principal, version: str, context: Mapping[str, Any]) -> str:
        """The assertion for one forwarded request. `context` is the principal's tenant context
        (`ContextService.load`): the tenant's slug and the effective privileges come from it."""
        key = self._keys.signing_key(principal.app_id)
        now = int(time.time())
        tenant = context.get("tenant") or {}
        claims: dict[str, Any] = {
            "iss": issuer(self._public_url, principal.app_slug),
            "aud": assertion_audience(principal.app_slug, version),
            "sub": str(principal.app_user_id),
            "tenant_id": str(principal.tenant_id),
            "tenant": tenant.get("slug"),
            "app": principal.app_slug,
            "app_id": str(principal.app_id),
            "version": version,
            "scope": " ".join(sorted(principal.scopes)),
            "privileges": list(context.get("privileges", ())),
            "department_privileges": dict(context.get("department_privileges", {})),
            "token_use": ASSERTION_USE,
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_TTL_SECONDS,
            "jti": str(uuid7()),
        }
        if principal.acting is not None:
            acting = principal.acting
            claims["act"] = {
                "sub": str(acting.actor_user_id),
                "tenant_id": str(acting.actor_tenant_id),
                "mode": acting.mode.value,
                "ro": acting.read_only,
            }
        # A compact JWS serialized here rather than by PyJWT, which costs twice the signature
        # itself: one assertion is made per forwarded call.
        signing_input = _header_segment(key.kid) + b"." + _segment(_json(claims))
        return (signing_input + b"." + _segment(key.private_key.sign(signing_input))).decode()


@lru_cache(maxsize=256)
def _header_segment(kid: str) -> bytes:
    return _segment(_json({"alg": ALGORITHM, "kid": kid, "typ": ASSERTION_TYPE}))


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _segment(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")
