"""Request and response bodies of the identity endpoints."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tenantry.identity.principal import Scope

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,62}$")]
# No whitespace and no control characters (a NUL byte cannot even be stored).
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
EMAIL_MAX_LENGTH = 320
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=EMAIL_MAX_LENGTH, pattern=EMAIL_PATTERN
    ),
]
_EMAIL = re.compile(EMAIL_PATTERN)


def normalize_email(value: str) -> str | None:
    """An email from elsewhere (an external ID token) checked like one typed into our forms:
    surrounding whitespace dropped, one valid address or None."""
    email = value.strip()
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL.match(email):
        return None
    return email


Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=32)]
OpaqueValue = Annotated[str, StringConstraints(min_length=10, max_length=200)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignupRequest(Body):
    tenant: Slug
    email: Email
    password: Password
    display_name: Annotated[str, StringConstraints(max_length=200)] | None = None


class LoginRequest(Body):
    tenant: Slug | None = Field(
        default=None, description="Omit to use the tenant that verified the email's domain."
    )
    email: Email
    password: Password


class MfaRequest(Body):
    mfa_token: Annotated[str, StringConstraints(min_length=10, max_length=4096)]
    code: Code


class RefreshRequest(Body):
    refresh_token: OpaqueValue


class TokenRequest(Body):
    token: OpaqueValue


class PasswordResetRequest(Body):
    tenant: Slug
    email: Email


class PasswordResetConfirm(Body):
    token: OpaqueValue
    password: Password


class ExternalLoginRequest(Body):
    tenant: Slug
    id_token: Annotated[str, StringConstraints(min_length=10, max_length=16384)]


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str
    session_id: UUID


TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


class TokenExchangeRequest(Body):
    """RFC 8693 token exchange, form-encoded: the current access token for one of the same
    person's identities in another tenant of this app."""

    grant_type: Literal["urn:ietf:params:oauth:grant-type:token-exchange"]
    subject_token: Annotated[str, StringConstraints(min_length=10, max_length=8192)]
    subject_token_type: Literal["urn:ietf:params:oauth:token-type:access_token"]
    requested_token_type: Literal["urn:ietf:params:oauth:token-type:access_token"] | None = None
    tenant: Slug = Field(description="The tenant to switch to (its slug).")


class TokenExchangeResponse(TokenResponse):
    issued_token_type: str = ACCESS_TOKEN_TYPE
    tenant_id: UUID


class TenantIdentityOut(BaseModel):
    tenant_id: UUID
    tenant_slug: str
    tenant_name: str
    app_user_id: UUID
    mfa_enabled: bool
    current: bool


class UserOut(BaseModel):
    id: UUID
    tenant_id: UUID
    app_id: UUID
    email: str
    email_verified: bool
    display_name: str | None
    mfa_enabled: bool
    created_at: datetime
    last_login_at: datetime | None


class SessionOut(BaseModel):
    id: UUID
    auth_method: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


class PasswordChange(Body):
    current_password: Password
    new_password: Password
    keep_api_tokens: bool = Field(
        default=False,
        description="Keep this account's API tokens working; by default they are revoked.",
    )


class Accepted(BaseModel):
    status: str = "accepted"


class TotpEnrollmentOut(BaseModel):
    secret: str
    otpauth_uri: str


class TotpConfirm(Body):
    code: Code


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]


class ApiTokenCreate(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.PROFILE], max_length=8)
    expires_in_days: int | None = Field(default=90, ge=1, le=366)


class ApiTokenOut(BaseModel):
    id: UUID
    name: str
    display_prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="Shown once; store it now.")


class TrustIssuerRequest(Body):
    app: Slug
    issuer: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=500)]
    audience: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    jwks_uri: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=1000)]


class ExternalIssuerOut(BaseModel):
    id: UUID
    issuer: str
    audience: str
    jwks_uri: str
    algorithms: list[str]


class AppIdentityOut(BaseModel):
    person_id: UUID
    app_id: UUID
    app_slug: str
    app_user_id: UUID
    email: str
    email_verified: bool
    created_at: datetime
    last_login_at: datetime | None
