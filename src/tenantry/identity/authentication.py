"""Verifying a request's bearer credential (an access token or an API token) into a
`Principal`, and the request's transaction, which re-checks a session-bound credential."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from tenantry.identity.access_tokens import TokenRefused
from tenantry.identity.principal import (
    ACTING_GRANTABLE,
    TOKEN_GRANTABLE,
    Credential,
    Principal,
    Scope,
    session_scopes,
)
from tenantry.identity.repository import acting, credentials, sessions
from tenantry.identity.tenancy import has_app
from tenantry.identity.tokens import TokenKind, parse_token
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import AppMismatch, TenantMismatch, Unauthorized
from tenantry.security_events.budget import RecordBudget

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tenantry.apps.models import App
    from tenantry.apps.service import AppDirectory
    from tenantry.identity.access_tokens import TokenService
    from tenantry.identity.tenancy import TenantGate
    from tenantry.kit.config import Settings
    from tenantry.kit.db import Database, Requirement, Transaction
    from tenantry.security_events.service import Origin, SecurityEvents

# Refused tokens recorded per source address and in all per minute (see `RecordBudget`): above
# the invalid-token rule's threshold, far below what a flood would write.
REFUSALS_PER_SOURCE = 30
REFUSALS_OVERALL = 600


class Authenticator:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        apps: AppDirectory,
        tenants: TenantGate,
        tokens: TokenService,
        events: SecurityEvents,
    ) -> None:
        self._db = db
        self._settings = settings
        self._apps = apps
        self._tenants = tenants
        self._tokens = tokens
        self._events = events
        self._refusals = RecordBudget(per_source=REFUSALS_PER_SOURCE, overall=REFUSALS_OVERALL)

    async def authenticate(
        self, app: App, bearer: str, origin: Origin, claimed_tenant: str | None
    ) -> Principal:
        if bearer.startswith(TokenKind.API.value):
            principal = await self._api_token(app, bearer, origin)
        else:
            principal = await self._access_token(app, bearer, origin)
        if claimed_tenant is not None and claimed_tenant[:64] != str(principal.tenant_id):
            await self._events.record(
                "tenant_mismatch",
                tenant_id=principal.tenant_id,
                app_id=principal.app_id,
                app_user_id=principal.app_user_id,
                origin=origin,
                detail={"claimed_tenant": claimed_tenant[:64]},
            )
            raise TenantMismatch("the request names another tenant than its credentials")
        return principal

    async def _access_token(self, app: App, token: str, origin: Origin) -> Principal:
        try:
            verified = await self._tokens.verify(token, self._apps.slugs_by_id)
        except TokenRefused as exc:
            await self._record_refusal(app, origin, exc.reason)
            raise
        if verified.app_id != app.id:
            await self._events.record(
                "app_mismatch",
                tenant_id=verified.tenant_id,
                app_id=verified.app_id,
                app_user_id=verified.app_user_id,
                origin=origin,
                detail={"route_app": app.slug},
            )
            raise AppMismatch("this token was issued for another app")
        tenant = await self._tenants.require_serving(verified.tenant_id, app.id)
        if verified.acting is not None:
            # An acting token carries the scopes it was issued with; its grant is re-checked
            # with every request (`credential_checks`).
            return Principal(
                tenant_id=verified.tenant_id,
                app_id=app.id,
                app_slug=app.slug,
                app_user_id=verified.app_user_id,
                credential=Credential.ACCESS_TOKEN,
                scopes=verified.scopes & ACTING_GRANTABLE,
                session_id=verified.session_id,
                acting=verified.acting,
            )
        signed_in_ago = time.time() - verified.auth_time
        return Principal.of_session(
            verified.tenant_id,
            app.id,
            app.slug,
            verified.app_user_id,
            verified.session_id,
            platform=tenant.slug == self._settings.platform_tenant,
            recent=signed_in_ago <= self._settings.reauthentication_max_age_seconds,
        )

    async def _api_token(self, app: App, value: str, origin: Origin) -> Principal:
        parsed = parse_token(value, TokenKind.API)
        if parsed is None:
            await self._record_refusal(app, origin, "malformed_api_token")
            raise Unauthorized("malformed API token")
        tenant = await self._tenants.get(parsed.tenant_id)
        if tenant is None or not has_app(tenant, app.id):
            await self._record_refusal(app, origin, "unknown_api_token")
            raise Unauthorized("invalid API token")
        async with self._db.tenant_transaction(TenantContext(tenant.id, app.id)) as tx:
            token = await credentials.find_api_token(tx, tenant.id, app.id, parsed.hash)
        if token is None:
            await self._record_refusal(app, origin, "unknown_api_token")
            raise Unauthorized("invalid API token")
        await self._tenants.require_serving(tenant.id, app.id)
        # A token carries at most what its owner's session could grant, now: a platform scope
        # stops working if the token's tenant is no longer the operator tenant.
        ceiling = session_scopes(
            app.slug, platform=tenant.slug == self._settings.platform_tenant, recent=False
        )
        return Principal(
            tenant_id=tenant.id,
            app_id=app.id,
            app_slug=app.slug,
            app_user_id=token.app_user_id,
            credential=Credential.API_TOKEN,
            scopes=frozenset(Scope(s) for s in token.scopes) & ceiling & TOKEN_GRANTABLE,
        )

    async def _record_refusal(self, app: App, origin: Origin, reason: str) -> None:
        """Record a refused bearer token (`invalid_token`, which the invalid-token alert rule
        counts by source address) for the operators: whatever tenant the token names is the
        caller's say-so, so it is the operators' tenant that hears of it, and the token itself
        is never kept. An expired token of ours is not refused here: that is every client's
        everyday. Within `RecordBudget` only; nothing is recorded without an operators' tenant.
        """
        if not self._refusals.admit(origin.ip or ""):
            return
        operators = await self._tenants.by_slug(self._settings.platform_tenant)
        if operators is None:
            return
        await self._events.record(
            "invalid_token",
            tenant_id=operators.id,
            origin=origin,
            detail={"reason": reason, "route_app": app.slug},
        )

    @asynccontextmanager
    async def transaction(self, principal: Principal) -> AsyncIterator[Transaction]:
        """The request's transaction in the principal's context, after the credential is
        re-checked (a revoked session stops working at once, not when its token expires).
        Scopes were checked by the route (`http.auth.Requires`)."""
        checks = self.credential_checks(principal)
        async with self._db.tenant_transaction(principal.context) as tx:
            for requirement in checks:
                tx.require(*requirement)
            yield tx

    def credential_checks(self, principal: Principal) -> list[Requirement]:
        if principal.session_id is None:
            return []
        if principal.acting is not None:
            return [
                acting.live_grant_check(
                    principal.acting.mode,
                    principal.tenant_id,
                    principal.app_id,
                    principal.acting.grant_id,
                    principal.app_user_id,
                    Unauthorized("the acting grant has ended"),
                )
            ]
        return [
            sessions.active_session_check(
                principal.tenant_id,
                principal.app_id,
                principal.session_id,
                principal.app_user_id,
                Unauthorized("session revoked or expired"),
            )
        ]
