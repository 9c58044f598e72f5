"""External identity providers: an app trusts an issuer, its users sign in with the issuer's ID
tokens, and tenant administrators see one person's identities across the tenant's apps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.external import unverified_issuer
from tenantry.identity.principal import ADMIN_APP
from tenantry.identity.repository import correlation, external, users
from tenantry.identity.schemas import normalize_email
from tenantry.identity.tenancy import serving_tenant_id
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import Conflict, InvalidInput, NotFound, Unauthorized

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.apps.models import App
    from tenantry.identity.external import ExternalIdentity, JwksCache
    from tenantry.identity.login import SessionStarter
    from tenantry.identity.models import AppIdentity, AppUser, ExternalIssuer, TokenPair
    from tenantry.identity.principal import Principal
    from tenantry.identity.tenancy import TenantGate
    from tenantry.kit.db import Database, Transaction
    from tenantry.security_events.service import Origin


class Federation:
    def __init__(
        self,
        db: Database,
        tenants: TenantGate,
        jwks: JwksCache,
        sessions: SessionStarter,
        clock_skew_seconds: int,
    ) -> None:
        self._db = db
        self._tenants = tenants
        self._jwks = jwks
        self._sessions = sessions
        self._skew = clock_skew_seconds

    async def external_login(
        self, app: App, tenant_slug: str, id_token: str, origin: Origin, user_agent: str | None
    ) -> TokenPair:
        """Sign in with an ID token of an issuer the app trusts. The issuer is read in one
        transaction and the sign-in written in another: the token is verified in between,
        which may fetch the issuer's keys over the network."""
        if app.slug == ADMIN_APP:
            raise NotFound("external sign-in is not available for this app")
        tenant_id = await serving_tenant_id(self._tenants, app.id, tenant_slug)
        context = TenantContext(tenant_id, app.id)
        async with self._db.tenant_transaction(context) as tx:
            issuer = await external.get_external_issuer(
                tx, tenant_id, app.id, unverified_issuer(id_token)
            )
        if issuer is None:
            raise Unauthorized("issuer not trusted by this app")
        identity = await self._jwks.verify(id_token, issuer, self._skew)
        async with self._db.tenant_transaction(context) as tx:
            user = await _linked_or_new_user(tx, tenant_id, app.id, identity)
            return await self._sessions.start_in(tx, app, user, ("ext",), origin, user_agent)

    async def trust_issuer(
        self, principal: Principal, app: App, issuer: str, audience: str, jwks_uri: str
    ) -> ExternalIssuer:
        """A tenant administrator makes one of the tenant's apps trust an external issuer."""
        if not principal.is_tenant_admin:
            raise NotFound("not found")
        await self._tenants.require_serving(principal.tenant_id, app.id)
        async with self._db.tenant_transaction(TenantContext(principal.tenant_id, app.id)) as tx:
            if await external.get_external_issuer(tx, principal.tenant_id, app.id, issuer):
                raise Conflict("this issuer is already trusted by the app")
            return await external.add_external_issuer(
                tx, principal.tenant_id, app.id, issuer, audience, jwks_uri
            )

    async def identities(
        self, principal: Principal, *, email: str | None = None, person_id: UUID | None = None
    ) -> list[AppIdentity]:
        """One person's identities across the tenant's apps (tenant administrators; the
        platform path, since they span apps)."""
        if not principal.is_tenant_admin:
            raise NotFound("not found")
        return await identities_in(self._db, principal.tenant_id, email=email, person_id=person_id)


async def identities_in(
    db: Database, tenant_id: UUID, *, email: str | None = None, person_id: UUID | None = None
) -> list[AppIdentity]:
    """A person's identities across a tenant's apps, by email or person id, read on the
    platform path: only for callers already authorised as that tenant's administrators or as
    platform administrators. Where the tenant lives."""
    async with db.platform_transaction(tenant_id=tenant_id) as tx:
        if person_id is not None:
            return await correlation.identities_of_person(tx, tenant_id, person_id)
        if email is None:
            raise InvalidInput("give an email or a person id")
        return await correlation.identities_by_email(tx, tenant_id, email)


async def _linked_or_new_user(
    tx: Transaction, tenant_id: UUID, app_id: UUID, identity: ExternalIdentity
) -> AppUser:
    user_id = await external.linked_user(tx, tenant_id, app_id, identity.issuer, identity.subject)
    user = await users.get(tx, tenant_id, app_id, user_id) if user_id else None
    if user is not None:
        return user
    if identity.email is None or not identity.email_verified:
        raise Unauthorized("the external identity has no verified email")
    email = normalize_email(identity.email)
    if email is None:
        raise Unauthorized("the external identity's email is not a valid address")
    # Never attach an external identity to an existing local account on the issuer's word
    # alone: whoever controls a trusted issuer could then sign in as anyone. The first sign-in
    # through an issuer creates a new identity.
    if await users.get_by_email(tx, tenant_id, app_id, email):
        raise Conflict(
            "an account with this email already exists in this app; "
            "sign in with it to use this identity provider"
        )
    user = await users.create(tx, tenant_id, app_id, email, email_verified=True)
    await correlation.correlate_user(tx, user)
    await external.link_identity(tx, user, identity.issuer, identity.subject)
    return user
