"""HTTP endpoints of the identity layer, under `/v1/apps/{app}`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Header, Query, Request, Response, status
from pydantic import TypeAdapter

from tenantry.http.auth import (
    ManagesUsers,
    Profile,
    Requires,
    RouteApp,
    origin,
    resolve_route_app,
)
from tenantry.identity.models import TokenPair
from tenantry.identity.principal import Principal, Scope
from tenantry.identity.schemas import (
    Accepted,
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenOut,
    AppIdentityOut,
    ExternalIssuerOut,
    ExternalLoginRequest,
    LoginRequest,
    MfaRequest,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    RecoveryCodesOut,
    RefreshRequest,
    SessionOut,
    SignupRequest,
    TenantIdentityOut,
    TokenExchangeRequest,
    TokenExchangeResponse,
    TokenRequest,
    TokenResponse,
    TotpConfirm,
    TotpEnrollmentOut,
    TrustIssuerRequest,
    UserOut,
)
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import ServicesDep

router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["identity"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
UserAgent = Annotated[str | None, Header(max_length=1000)]
Sessions = Annotated[Principal, Requires(Scope.SESSIONS)]
ApiTokens = Annotated[Principal, Requires(Scope.API_TOKENS)]
# Credential changes: an interactive session whose sign-in is recent, never an API token.
Account = Annotated[Principal, Requires(Scope.ACCOUNT)]


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        session_id=pair.session_id,
    )


@router.post("/auth/signup", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def signup(body: SignupRequest, app: RouteApp, services: ServicesDep) -> Accepted:
    """Create an identity in this tenant and app; a verification code is mailed. The answer
    is the same when the email already has an account (its owner is told by mail)."""
    await services.identity.signup(app, body.tenant, body.email, body.password, body.display_name)
    return Accepted()


@router.post("/auth/verify-email", status_code=status.HTTP_204_NO_CONTENT)
async def verify_email(body: TokenRequest, app: RouteApp, services: ServicesDep) -> None:
    await services.identity.verify_email(app, body.token)


@router.post("/auth/login", response_model=TokenResponse)
async def login(
    body: LoginRequest,
    app: RouteApp,
    services: ServicesDep,
    request: Request,
    user_agent: UserAgent = None,
) -> TokenResponse:
    """Password login. With MFA enabled, answers 401 `mfa_required` carrying an `mfa_token`."""
    pair = await services.identity.login(
        app, body.tenant, body.email, body.password, origin(request), user_agent
    )
    return _tokens(pair)


@router.post("/auth/mfa", response_model=TokenResponse)
async def complete_mfa(
    body: MfaRequest,
    app: RouteApp,
    services: ServicesDep,
    request: Request,
    user_agent: UserAgent = None,
) -> TokenResponse:
    """Second step of an MFA login: a TOTP code or a recovery code."""
    pair = await services.identity.complete_mfa(
        app, body.mfa_token, body.code, origin(request), user_agent
    )
    return _tokens(pair)


@router.post("/auth/refresh", response_model=TokenResponse)
async def refresh(
    body: RefreshRequest, app: RouteApp, services: ServicesDep, request: Request
) -> TokenResponse:
    """Rotate the refresh token. Presenting a used one revokes the whole session."""
    return _tokens(await services.identity.refresh(app, body.refresh_token, origin(request)))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: Sessions, services: ServicesDep) -> None:
    await services.identity.logout(principal)


@router.post("/auth/password-reset", status_code=status.HTTP_202_ACCEPTED)
async def request_password_reset(
    body: PasswordResetRequest, app: RouteApp, services: ServicesDep
) -> dict[str, str]:
    """Always accepted, whether or not the account exists."""
    await services.identity.request_password_reset(app, body.tenant, body.email)
    return {"status": "accepted"}


@router.post("/auth/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def confirm_password_reset(
    body: PasswordResetConfirm, app: RouteApp, services: ServicesDep
) -> None:
    """Set a new password; every session and every API token of the account is revoked."""
    await services.identity.reset_password(app, body.token, body.password)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChange, principal: Account, services: ServicesDep) -> None:
    """Change the password (needs a recent sign-in). Every other session is revoked, and the
    account's API tokens too unless `keep_api_tokens` is set."""
    await services.identity.change_password(
        principal, body.current_password, body.new_password, keep_api_tokens=body.keep_api_tokens
    )


@router.post("/auth/external", response_model=TokenResponse)
async def external_login(
    body: ExternalLoginRequest,
    app: RouteApp,
    services: ServicesDep,
    request: Request,
    user_agent: UserAgent = None,
) -> TokenResponse:
    """Exchange an ID token of an issuer this app trusts for a session."""
    pair = await services.identity.external_login(
        app, body.tenant, body.id_token, origin(request), user_agent
    )
    return _tokens(pair)


@router.post("/auth/token-exchange", response_model=TokenExchangeResponse)
async def token_exchange(
    body: Annotated[TokenExchangeRequest, Form()],
    app: RouteApp,
    services: ServicesDep,
    request: Request,
    user_agent: UserAgent = None,
) -> TokenExchangeResponse:
    """Switch the active tenant (RFC 8693): the current access token (`subject_token`) for a
    session of the same person's identity in `tenant`, without credentials. The person must
    hold a proven identity there; a second factor of that identity answers 401
    `mfa_required` (complete it at `/auth/mfa`). The new token is scoped to that tenant only."""
    pair, tenant_id = await services.identity.exchange_token(
        app, body.subject_token, body.tenant, origin(request), user_agent
    )
    return TokenExchangeResponse(**_tokens(pair).model_dump(), tenant_id=tenant_id)


@router.get("/me/tenants", response_model=list[TenantIdentityOut])
async def my_tenants(principal: Profile, services: ServicesDep) -> list[TenantIdentityOut]:
    """The caller's identities in the tenants of this app that a token exchange can switch
    to (the current one included, marked `current`)."""
    return [
        TenantIdentityOut(
            tenant_id=i.tenant_id,
            tenant_slug=i.tenant_slug,
            tenant_name=i.tenant_name,
            app_user_id=i.app_user_id,
            mfa_enabled=i.mfa_enabled,
            current=i.tenant_id == principal.tenant_id,
        )
        for i in await services.identity.my_tenants(principal)
    ]


# The two hottest reads serialise their (already validated) models directly, skipping
# FastAPI's second validation pass of the response.
_SESSIONS = TypeAdapter(list[SessionOut])


@router.get("/me", response_model=UserOut)
async def me(principal: Profile, services: ServicesDep) -> Response:
    user = UserOut.model_validate(await services.identity.me(principal), from_attributes=True)
    return Response(user.model_dump_json(), media_type="application/json")


@router.get("/sessions", response_model=list[SessionOut])
async def sessions(principal: Sessions, services: ServicesDep) -> Response:
    listed = [
        SessionOut(
            **{f: getattr(s, f) for f in SessionOut.model_fields if f != "current"},
            current=s.id == principal.session_id,
        )
        for s in await services.identity.sessions(principal)
    ]
    return Response(_SESSIONS.dump_json(listed), media_type="application/json")


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(session_id: UUID, principal: Sessions, services: ServicesDep) -> None:
    await services.identity.revoke_session(principal, session_id)


@router.post("/mfa/totp", response_model=TotpEnrollmentOut)
async def start_totp(principal: Account, services: ServicesDep) -> TotpEnrollmentOut:
    """Begin TOTP enrolment: add the secret to an authenticator, then confirm with a code."""
    enrollment = await services.identity.start_totp(principal)
    return TotpEnrollmentOut(secret=enrollment.secret, otpauth_uri=enrollment.uri)


@router.post("/mfa/totp/confirm", response_model=RecoveryCodesOut)
async def confirm_totp(
    body: TotpConfirm, principal: Account, services: ServicesDep
) -> RecoveryCodesOut:
    """Switch MFA on; the one-time recovery codes are shown only in this response."""
    return RecoveryCodesOut(
        recovery_codes=await services.identity.confirm_totp(principal, body.code)
    )


@router.post("/api-tokens", status_code=status.HTTP_201_CREATED, response_model=ApiTokenCreated)
async def create_api_token(
    body: ApiTokenCreate,
    principal: Annotated[Principal, Requires(Scope.API_TOKENS, Scope.ACCOUNT)],
    services: ServicesDep,
) -> ApiTokenCreated:
    """Mint an API token (needs a recent sign-in). It carries at most the scopes of its
    creator that tokens may hold: `profile`, `admin`, `platform`."""
    token, secret = await services.identity.create_api_token(
        principal, body.name, body.scopes, body.expires_in_days
    )
    return ApiTokenCreated(
        **ApiTokenOut.model_validate(token, from_attributes=True).model_dump(), token=secret
    )


@router.get("/api-tokens", response_model=list[ApiTokenOut])
async def api_tokens(principal: ApiTokens, services: ServicesDep) -> list[ApiTokenOut]:
    return [
        ApiTokenOut.model_validate(t, from_attributes=True)
        for t in await services.identity.api_tokens(principal)
    ]


@router.delete("/api-tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_token(token_id: UUID, principal: ApiTokens, services: ServicesDep) -> None:
    await services.identity.revoke_api_token(principal, token_id)


# Tenant administration (users of the tenant's admin app) ----------------------------------------


@router.post(
    "/external-issuers", status_code=status.HTTP_201_CREATED, response_model=ExternalIssuerOut
)
async def trust_issuer(
    body: TrustIssuerRequest, principal: ManagesUsers, services: ServicesDep
) -> ExternalIssuerOut:
    target = services.apps.by_slug(body.app)
    issuer = await services.identity.trust_issuer(
        principal, target, body.issuer, body.audience, body.jwks_uri
    )
    return ExternalIssuerOut.model_validate(issuer, from_attributes=True)


@router.get("/people", response_model=list[AppIdentityOut])
async def people(
    principal: ManagesUsers,
    services: ServicesDep,
    email: Annotated[str | None, Query(max_length=320)] = None,
    person_id: UUID | None = None,
) -> list[AppIdentityOut]:
    """A person's identities across the tenant's apps (by email or person id)."""
    found = await services.identity.identities(principal, email=email, person_id=person_id)
    return [AppIdentityOut.model_validate(i, from_attributes=True) for i in found]
