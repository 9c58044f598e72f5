"""The signed tenant context: who a transaction acts for, unforgeable from SQL.

The application signs `v1.<kid>.<tenant>.<app>.<user>.<flags>.<expires>` with HMAC-SHA256 and
applies it transaction-locally as the `tenantry.context` setting. Row-level security policies
call `tenantry.current_tenant_id()` and friends, SECURITY DEFINER functions that recompute the
HMAC with a key the runtime role cannot read and return NULL for anything missing, forged or
expired. SQL running as the runtime role can set the setting to any text, but cannot produce a
signature, so it can only narrow what it sees, never widen it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uuid import UUID

_VERSION = "v1"


@dataclass(frozen=True, slots=True)
class TenantContext:
    """What a tenant-scoped transaction may see: one tenant, optionally one app and one user.

    `cross_app` lets a tenant administrator read (never write) every app's rows of the tenant;
    it only has meaning once signed, so SQL can never switch it on. `actor_id` is the user who
    really acts when `app_user_id` is impersonated or delegated (the database sees both, in
    `tenantry.current_scope`); `read_only` makes the whole transaction READ ONLY.
    """

    tenant_id: UUID
    app_id: UUID | None = None
    app_user_id: UUID | None = None
    cross_app: bool = False
    actor_id: UUID | None = None
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class ContextKey:
    kid: str
    secret: bytes

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"ContextKey(kid={self.kid!r})"


class ContextSigner:
    """Signs with the newest key; older keys keep verifying in the database until retired."""

    def __init__(self, key: ContextKey, ttl_seconds: int) -> None:
        self._key = key
        self._ttl = ttl_seconds

    @property
    def kid(self) -> str:
        return self._key.kid

    @property
    def secret(self) -> bytes:
        """For deriving other keys (admin cookies); never logged or sent anywhere."""
        return self._key.secret

    def sign_tenant(self, context: TenantContext) -> str:
        # Flags are letters (`a` cross-app, `r` read-only), then `~<actor>` when someone acts
        # for the user; the verifier reads letters only before the `~`.
        flags = ("a" if context.cross_app else "") + ("r" if context.read_only else "")
        if context.actor_id is not None:
            flags += f"~{context.actor_id}"
        return self._sign(
            str(context.tenant_id),
            _uuid_or_empty(context.app_id),
            _uuid_or_empty(context.app_user_id),
            flags,
        )

    def sign_platform(self) -> str:
        """A context honoured only by the platform role's policies (control-plane work)."""
        return self._sign("", "", "", "p")

    def _sign(self, tenant: str, app: str, user: str, flags: str) -> str:
        expires = int(time.time()) + self._ttl
        payload = f"{_VERSION}.{self._key.kid}.{tenant}.{app}.{user}.{flags}.{expires}"
        signature = hmac.new(self._key.secret, payload.encode(), hashlib.sha256).hexdigest()
        return f"{payload}.{signature}"


def _uuid_or_empty(value: UUID | None) -> str:
    return "" if value is None else str(value)


def hmac_pads(secret: bytes) -> tuple[bytes, bytes]:
    """The inner and outer HMAC-SHA256 pads, stored so the database can verify with `sha256()`.

    PostgreSQL has no built-in HMAC (and pgcrypto is not always installed), but
    HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)), so precomputed pads are enough.
    """
    block = secret if len(secret) <= 64 else hashlib.sha256(secret).digest()  # noqa: PLR2004 - HMAC-SHA256 block size
    block = block.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)
