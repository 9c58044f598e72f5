"""Acting for another user: impersonation by administrators, and delegation between users.

Impersonation is off unless the target tenant turns it on (`impersonation_enabled`). A tenant
administrator may impersonate users of their own tenant, a platform administrator users of any
tenant; never an administrator (the admin app), never themselves. It needs a reason, is
read-only unless asked otherwise, lasts at most `impersonation_max_minutes`, mails the target
and records a security event in the target's tenant. Its token says who acts (RFC 8693 `act`),
and so does the signed database context; ending it stops the token at the next request.

A delegation lets one user act for another of the same tenant and app: scoped (at most the
grantor's own scopes, never sessions, tokens or credentials), time-boxed, revocable by either
side. The delegate asks for a token when they need one; each request re-checks the grant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tenantry.identity.models import ActingToken
from tenantry.identity.principal import (
    ACTING_GRANTABLE,
    ADMIN_APP,
    Acting,
    ActingMode,
    Scope,
)
from tenantry.identity.repository import acting as grants
from tenantry.identity.repository import mail, users
from tenantry.kit.errors import Forbidden, InvalidInput, NotFound

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.apps.models import App
    from tenantry.identity.access_tokens import TokenService
    from tenantry.identity.authentication import Authenticator
    from tenantry.identity.models import ActorImpersonation, Delegation, Impersonation
    from tenantry.identity.principal import Principal
    from tenantry.identity.tenancy import TenantGate
    from tenantry.kit.db import Database
    from tenantry.security_events.service import Origin, SecurityEvents

MAX_DELEGATION_DAYS = 30
# Impersonation tokens never outlive the grant, nor the usual access-token lifetime.
IMPERSONATION_AMR = ("imp",)
DELEGATION_AMR = ("dlg",)


class TenantPolicies(Protocol):
    """The target tenant's effective settings (the settings feature sits above identity)."""

    async def effective(self, slug: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class ImpersonationRequest:
    tenant_slug: str | None  # None: the administrator's own tenant
    app: App
    email: str
    reason: str
    read_only: bool = True
    minutes: int | None = None


class ActingService:
    def __init__(
        self,
        db: Database,
        auth: Authenticator,
        tenants: TenantGate,
        policies: TenantPolicies,
        tokens: TokenService,
        events: SecurityEvents,
        token_ttl_seconds: int,
    ) -> None:
        self._db = db
        self._auth = auth
        self._tenants = tenants
        self._policies = policies
        self._tokens = tokens
        self._events = events
        self._ttl = token_ttl_seconds

    # Impersonation ------------------------------------------------------------------------

    async def impersonate(
        self, principal: Principal, request: ImpersonationRequest, origin: Origin
    ) -> tuple[ActingToken, Impersonation]:
        if principal.acting is not None or Scope.ADMIN not in principal.scopes:
            raise Forbidden("only an administrator signed in as themselves may impersonate")
        if request.app.slug == ADMIN_APP:
            raise InvalidInput("administrators cannot be impersonated")
        tenant = await (
            self._tenants.get(principal.tenant_id)
            if request.tenant_slug is None
            else self._tenants.by_slug(request.tenant_slug)
        )
        # A tenant administrator reaches their own tenant only; anything else does not exist.
        if tenant is None or (
            Scope.PLATFORM not in principal.scopes and tenant.id != principal.tenant_id
        ):
            raise NotFound("no such tenant")
        await self._tenants.require_serving(tenant.id, request.app.id)
        policy = await self._policies.effective(tenant.slug)
        if not policy["impersonation_enabled"]:
            raise Forbidden("impersonation is turned off for this tenant")
        longest = int(policy["impersonation_max_minutes"])
        minutes = min(request.minutes or longest, longest)
        # The impersonated tenant's rows only (the actor is named, not joined): where it lives.
        async with self._db.platform_transaction(tenant_id=tenant.id) as tx:
            target = await users.get_by_email(tx, tenant.id, request.app.id, request.email)
            if target is None or target.status != "active":
                raise NotFound("no such user")
            grant = await grants.start_impersonation(
                tx,
                tenant_id=tenant.id,
                app_id=request.app.id,
                target_user_id=target.id,
                actor_user_id=principal.app_user_id,
                actor_tenant_id=principal.tenant_id,
                actor=str(principal.actor),
                reason=request.reason,
                read_only=request.read_only,
                minutes=minutes,
            )
            detail = {
                "impersonation_id": str(grant.id),
                "actor": str(principal.actor),
                "reason": request.reason,
                "read_only": request.read_only,
                "minutes": minutes,
            }
            await self._events.record_in(
                tx,
                "impersonation_started",
                tenant_id=tenant.id,
                origin=origin,
                app_id=request.app.id,
                app_user_id=target.id,
                detail=detail,
            )
            # The person is told, in the same transaction: no silent impersonation.
            await mail.queue_mail(
                tx,
                tenant.id,
                request.app.id,
                target.email,
                "An administrator is acting as you",
                f"An administrator started acting as you for up to {minutes} minutes"
                f"{' (read-only)' if request.read_only else ''}.\n\nReason: {request.reason}\n",
            )
        acting = Acting(
            ActingMode.IMPERSONATION,
            principal.app_user_id,
            principal.tenant_id,
            grant.id,
            read_only=request.read_only,
        )
        token = self._token(request.app, tenant.id, target.id, acting, {Scope.PROFILE}, minutes)
        return token, grant

    async def end_impersonation(
        self, principal: Principal, grant_id: UUID, tenant_slug: str | None, origin: Origin
    ) -> None:
        """End as the impersonating administrator, from the impersonation's own token, or as
        an administrator of the impersonated tenant."""
        tenant_id = principal.tenant_id
        if tenant_slug is not None:
            tenant = await self._tenants.by_slug(tenant_slug)
            if tenant is None:
                raise NotFound("no such impersonation")
            tenant_id = tenant.id
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            grant = await grants.impersonation(tx, tenant_id, grant_id)
            if grant is None or not _may_end(principal, grant):
                raise NotFound("no such impersonation")
            if await grants.end_impersonation(tx, tenant_id, grant_id, str(principal.actor)):
                await self._events.record_in(
                    tx,
                    "impersonation_ended",
                    tenant_id=tenant_id,
                    origin=origin,
                    app_id=grant.app_id,
                    app_user_id=grant.target_user_id,
                    severity="info",
                    detail={"impersonation_id": str(grant_id), "by": str(principal.actor)},
                )

    async def impersonations(self, principal: Principal, limit: int = 50) -> list[Impersonation]:
        """The tenant's impersonations, newest first, for its administrators."""
        if Scope.ADMIN not in principal.scopes:
            raise NotFound("not found")
        async with self._db.platform_transaction(tenant_id=principal.tenant_id) as tx:
            return await grants.impersonations(tx, principal.tenant_id, limit)

    async def started_by(self, principal: Principal, limit: int = 20) -> list[ActorImpersonation]:
        """The impersonations this administrator started, newest first (the admin UI's
        banner shows the running ones)."""
        async with self._db.platform_transaction() as tx:
            return await grants.started_by(tx, principal.tenant_id, principal.app_user_id, limit)

    # Delegation -------------------------------------------------------------------------

    async def delegate(
        self,
        principal: Principal,
        delegate_email: str,
        scopes: frozenset[Scope],
        reason: str,
        minutes: int,
        privileges: tuple[str, ...] = (),
    ) -> Delegation:
        if principal.acting is not None:
            raise Forbidden("a delegated or impersonated credential cannot delegate further")
        widened = scopes - (principal.scopes & ACTING_GRANTABLE)
        if widened:
            raise Forbidden(f"cannot delegate what this credential lacks: {', '.join(widened)}")
        if not 1 <= minutes <= MAX_DELEGATION_DAYS * 24 * 60:
            raise InvalidInput(
                f"a delegation lasts between 1 minute and {MAX_DELEGATION_DAYS} days"
            )
        async with self._auth.transaction(principal) as tx:
            delegate = await users.get_by_email(
                tx, principal.tenant_id, principal.app_id, delegate_email
            )
            if delegate is None or delegate.status != "active":
                raise NotFound("no such user")
            if delegate.id == principal.app_user_id:
                raise InvalidInput("a delegation names someone else")
            return await grants.add_delegation(
                tx,
                tenant_id=principal.tenant_id,
                app_id=principal.app_id,
                grantor_id=principal.app_user_id,
                delegate_id=delegate.id,
                scopes=sorted(scopes),
                privileges=sorted(privileges),
                reason=reason,
                minutes=minutes,
            )

    async def delegations(self, principal: Principal) -> list[Delegation]:
        async with self._auth.transaction(principal) as tx:
            return await grants.delegations_of(
                tx, principal.tenant_id, principal.app_id, principal.app_user_id
            )

    async def revoke_delegation(self, principal: Principal, grant_id: UUID) -> None:
        async with self._auth.transaction(principal) as tx:
            revoked = await grants.revoke_delegation(
                tx, principal.tenant_id, principal.app_id, grant_id, principal.app_user_id
            )
        if not revoked:
            raise NotFound("no such delegation")

    async def tenant_delegations(
        self, principal: Principal, tenant_slug: str, limit: int = 100
    ) -> list[Delegation]:
        """Every delegation of a tenant's users, for platform administrators."""
        tenant_id = await self._platform_reach(principal, tenant_slug)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await grants.tenant_delegations(tx, tenant_id, limit)

    async def revoke_tenant_delegation(
        self, principal: Principal, tenant_slug: str, grant_id: UUID, origin: Origin
    ) -> None:
        """A platform administrator revokes one of a tenant's delegations; the tenant's
        security events record who did."""
        tenant_id = await self._platform_reach(principal, tenant_slug)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            revoked = await grants.revoke_tenant_delegation(tx, tenant_id, grant_id)
            if revoked is None:
                raise NotFound("no such delegation")
            await self._events.record_in(
                tx,
                "delegation_revoked",
                tenant_id=tenant_id,
                origin=origin,
                app_id=revoked.app_id,
                app_user_id=revoked.grantor_id,
                severity="info",
                detail={"delegation_id": str(grant_id), "by": str(principal.actor)},
            )

    async def _platform_reach(self, principal: Principal, tenant_slug: str) -> UUID:
        if Scope.PLATFORM not in principal.scopes or principal.acting is not None:
            raise NotFound("not found")
        tenant = await self._tenants.by_slug(tenant_slug)
        if tenant is None:
            raise NotFound("no such tenant")
        return tenant.id

    async def act_for(self, principal: Principal, app: App, grant_id: UUID) -> ActingToken:
        """A token with which the delegate acts for the grantor, while the delegation runs."""
        if principal.acting is not None:
            raise Forbidden("a delegated or impersonated credential cannot act for others")
        async with self._auth.transaction(principal) as tx:
            grant = await grants.delegation(tx, principal.tenant_id, principal.app_id, grant_id)
            if grant is None or grant.delegate_id != principal.app_user_id:
                raise NotFound("no such delegation")
        if not grant.live:
            raise Forbidden("this delegation is not running")
        acting = Acting(
            ActingMode.DELEGATION,
            principal.app_user_id,
            principal.tenant_id,
            grant.id,
            read_only=False,
        )
        scopes = {Scope(s) for s in grant.scopes} & ACTING_GRANTABLE
        minutes_left = max(1, int((grant.ends_at.timestamp() - time.time()) // 60))
        return self._token(app, grant.tenant_id, grant.grantor_id, acting, scopes, minutes_left)

    def _token(
        self,
        app: App,
        tenant_id: UUID,
        user_id: UUID,
        acting: Acting,
        scopes: set[Scope],
        minutes: int,
    ) -> ActingToken:
        amr = IMPERSONATION_AMR if acting.mode is ActingMode.IMPERSONATION else DELEGATION_AMR
        token, ttl = self._tokens.issue(
            app_id=app.id,
            app_slug=app.slug,
            tenant_id=tenant_id,
            app_user_id=user_id,
            session_id=acting.grant_id,
            amr=amr,
            ttl_seconds=min(self._ttl, minutes * 60),
            acting=acting,
            scopes=frozenset(scopes),
        )
        return ActingToken(token, ttl, acting.grant_id)


def _may_end(principal: Principal, grant: Impersonation) -> bool:
    if principal.acting is not None:
        return principal.acting.grant_id == grant.id
    if (
        principal.app_user_id == grant.actor_user_id
        and principal.tenant_id == grant.actor_tenant_id
    ):
        return True
    return Scope.ADMIN in principal.scopes and principal.tenant_id == grant.tenant_id
