"""Admin sign-in state: an HttpOnly cookie naming a server-side session, and CSRF tokens.

The cookie carries a session id and an HMAC of it; the session row (in the sessions table, as
for API logins) decides whether it is still valid, so signing out or revoking it ends it at once.
CSRF tokens are an HMAC of the session id (synchronizer tokens); before sign-in the login form
uses a double-submit cookie. Keys derive from the context-signing key, so nothing new needs
configuring and rotating that key rotates these too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from tenantry.identity.models import ActorImpersonation
    from tenantry.identity.principal import Principal
    from tenantry.kit.db import Database

COOKIE = "tenantry_admin"
LOGIN_CSRF_COOKIE = "tenantry_admin_login"


def _key(db: Database, label: str) -> bytes:
    return hashlib.sha256(label.encode() + b"\x00" + db.signer.secret).digest()


def _mac(db: Database, label: str, value: str) -> str:
    return hmac.new(_key(db, label), value.encode(), hashlib.sha256).hexdigest()


def cookie_value(db: Database, session_id: UUID) -> str:
    return f"{session_id}.{_mac(db, 'admin-cookie', str(session_id))}"


def session_from_cookie(db: Database, value: str | None) -> UUID | None:
    if not value or "." not in value:
        return None
    raw, _, mac = value.partition(".")
    if not _same(mac, _mac(db, "admin-cookie", raw)):
        return None
    try:
        return UUID(raw)
    except ValueError:
        return None


def csrf_token(db: Database, session_id: UUID) -> str:
    return _mac(db, "admin-csrf", str(session_id))


def csrf_valid(db: Database, session_id: UUID, token: str | None) -> bool:
    return bool(token) and _same(str(token), csrf_token(db, session_id))


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input (as a mismatch)."""
    return _same(given, expected)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Admin:
    """The signed-in platform administrator of one admin page request."""

    principal: Principal
    session_id: UUID
    email: str
    csrf: str
    # What the administrator started and is still running, for the banner on every page.
    impersonating: tuple[ActorImpersonation, ...] = ()
