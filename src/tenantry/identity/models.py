"""Identity's domain types: what other features and the edges may name without reaching into
a repository."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID


@dataclass(frozen=True, slots=True)
class AppUser:
    id: UUID
    tenant_id: UUID
    app_id: UUID
    email: str
    email_verified: bool
    display_name: str | None
    status: str
    password_hash: str | None
    mfa_secret: str | None
    mfa_enabled: bool
    created_at: datetime
    last_login_at: datetime | None
    # When Tenantry's own mailed code proved the address (what makes one person's identities
    # in several tenants the same person).
    email_proven_at: datetime | None = None
    deactivated_by: str | None = None


@dataclass(frozen=True, slots=True)
class Session:
    id: UUID
    app_user_id: UUID
    auth_method: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class RefreshState:
    token_id: UUID
    session_id: UUID
    app_user_id: UUID
    used: bool
    session_active: bool
    # The session's interactive sign-in, carried into refreshed access tokens as `auth_time`.
    signed_in_at: datetime


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: UUID
    app_user_id: UUID
    name: str
    display_prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class ExternalIssuer:
    id: UUID
    issuer: str
    audience: str
    jwks_uri: str
    algorithms: list[str]


@dataclass(frozen=True, slots=True)
class AppIdentity:
    """One of a person's identities, as the cross-app correlation links them."""

    person_id: UUID
    app_id: UUID
    app_slug: str
    app_user_id: UUID
    email: str
    email_verified: bool
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: UUID


@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    secret: str
    uri: str


@dataclass(frozen=True, slots=True)
class Impersonation:
    id: UUID
    tenant_id: UUID
    app_id: UUID
    target_user_id: UUID
    actor_user_id: UUID
    actor_tenant_id: UUID
    actor: str
    reason: str
    read_only: bool
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class Delegation:
    id: UUID
    tenant_id: UUID
    app_id: UUID
    grantor_id: UUID
    delegate_id: UUID
    scopes: list[str]
    privileges: list[str]
    reason: str
    starts_at: datetime
    ends_at: datetime
    revoked_at: datetime | None
    live: bool


@dataclass(frozen=True, slots=True)
class ActingToken:
    """An access token under which someone acts for a user (no refresh token: it ends with its
    grant, and a new one is asked for explicitly)."""

    access_token: str
    expires_in: int
    grant_id: UUID


@dataclass(frozen=True, slots=True)
class TenantIdentity:
    """One of a person's identities in the tenants of one app (`GET /me/tenants`)."""

    tenant_id: UUID
    tenant_slug: str
    tenant_name: str
    app_user_id: UUID
    email: str
    mfa_enabled: bool


@dataclass(frozen=True, slots=True)
class ActorImpersonation:
    """An impersonation as the administrator who started it sees it."""

    id: UUID
    tenant_slug: str
    app_slug: str
    target_email: str
    reason: str
    read_only: bool
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    active: bool
