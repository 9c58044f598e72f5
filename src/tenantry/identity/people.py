"""One person, several tenants: listing a person's identities in the tenants of an app, and
switching the active tenant with a token exchange (RFC 8693) without entering credentials again.

Every token stays scoped to exactly one tenant: the exchange opens a new session of the *target*
identity, in the target tenant, and answers with that session's tokens; the subject session is
left as it was (the person may switch back).

What makes two identities "the same person" is chosen against one threat: someone who controls
an identity with a given address in tenant A must gain nothing in tenant B that they could not
get there anyway. Tenant B's identity with that address can always be taken over by whoever
reads the address's mail (a password reset), so the exchange is limited to exactly that:

- the same app (tokens of another app are refused as `app_mismatch` before anything else);
- the same address on both identities, **proven by Tenantry's own mailed code** on both (sign-up
  verification, a password reset, an accepted invitation: `email_proven_at`). An address marked
  verified on someone else's word does not count: an administrator of tenant A could make
  their tenant trust an external issuer that asserts any address "verified", or create an
  identity with any address, and must not reach tenant B's identity of that address through it;
- both identities active (a deactivated target is refused), both tenants active with the app
  enabled;
- the target's own second factor: if the target identity has one, the exchange answers
  `mfa_required` with a challenge for it (completed at `/auth/mfa`), so a password-only
  session in a lax tenant never opens an identity protected by a second factor; if the target
  tenant requires a second factor (`mfa_required` setting) and the target has none enrolled,
  the exchange is refused (`mfa_enrollment_required`);
- throttled like a sign-in: refused exchanges count against the subject identity and the
  client address, and a locked-out target account cannot be entered this way either;
- the new session keeps the subject session's sign-in time (`auth_time`), so it never looks
  like a recent sign-in (credential changes still need one in the target tenant).

Each exchange is recorded as a security event in both tenants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from tenantry.identity.access_tokens import EXCHANGE, MFA_CHALLENGE
from tenantry.identity.login import MFA_CHALLENGE_TTL
from tenantry.identity.principal import Credential
from tenantry.identity.repository import people, users
from tenantry.identity.throttle import throttle_key
from tenantry.identity.tokens import TokenKind
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import (
    InvalidInput,
    MfaEnrollmentRequired,
    MfaRequired,
    NotFound,
    Unauthorized,
)

if TYPE_CHECKING:
    from tenantry.apps.models import App
    from tenantry.apps.service import AppDirectory
    from tenantry.identity.access_tokens import TokenService
    from tenantry.identity.authentication import Authenticator
    from tenantry.identity.login import SessionStarter
    from tenantry.identity.models import TenantIdentity, TokenPair
    from tenantry.identity.principal import Principal
    from tenantry.identity.tenancy import TenantGate
    from tenantry.identity.throttle import LoginThrottle
    from tenantry.kit.db import Database, Transaction
    from tenantry.security_events.service import Origin, SecurityEvents


class TenantSettings(Protocol):
    """A tenant's effective settings by slug (the settings service, passed by the composition
    root: settings sit above identity)."""

    async def effective(self, slug: str) -> dict[str, Any]: ...


class People:
    def __init__(
        self,
        db: Database,
        apps: AppDirectory,
        tenants: TenantGate,
        tokens: TokenService,
        throttle: LoginThrottle,
        events: SecurityEvents,
        starter: SessionStarter,
        auth: Authenticator,
        settings: TenantSettings,
    ) -> None:
        self._db = db
        self._apps = apps
        self._tenants = tenants
        self._tokens = tokens
        self._throttle = throttle
        self._events = events
        self._starter = starter
        self._auth = auth
        self._settings = settings

    async def tenants(self, principal: Principal) -> list[TenantIdentity]:
        """The caller's identities in the tenants of this app, theirs included (the platform
        path: the runtime role cannot see other tenants, by design)."""
        await self._db.check(principal.context, self._auth.credential_checks(principal))
        async with self._db.platform_transaction() as tx:
            return await people.identities_of(
                tx, principal.tenant_id, principal.app_id, principal.app_user_id
            )

    async def exchange(
        self, app: App, subject_token: str, tenant_slug: str, origin: Origin, user_agent: str | None
    ) -> tuple[TokenPair, UUID]:
        """A session of the same person's identity in `tenant_slug`: its tokens and tenant."""
        if subject_token.startswith(TokenKind.API.value):
            raise Unauthorized("the subject token must be an access token of a session")
        principal = await self._auth.authenticate(app, subject_token, origin, None)
        if (
            principal.credential is not Credential.ACCESS_TOKEN
            or principal.session_id is None
            or principal.acting is not None
        ):
            # Someone acting for the user (delegation, impersonation) is not the person.
            raise Unauthorized("the subject token must be an access token of your own session")
        await self._db.check(principal.context, self._auth.credential_checks(principal))
        subject = await self._tokens.verify(subject_token, self._apps.slugs_by_id)
        caller = throttle_key("exchange", str(principal.tenant_id), str(principal.app_user_id))
        ip = throttle_key("ip", origin.ip or "")
        await self._throttle.check(caller, ip)
        target = await self._tenants.by_slug(tenant_slug)
        if target is not None and target.id == principal.tenant_id:
            raise InvalidInput("this token is already scoped to that tenant")
        async with self._db.platform_transaction() as tx:
            mine = await people.identities_of(
                tx, principal.tenant_id, principal.app_id, principal.app_user_id
            )
        match = next((i for i in mine if target is not None and i.tenant_id == target.id), None)
        if target is None or match is None:
            await self._refused(principal, origin, tenant_slug, "no_identity")
            await self._throttle.failed(caller, ip)
            raise NotFound("you have no identity in that tenant for this app")
        # A target account locked by failed sign-ins cannot be entered by an exchange either.
        await self._throttle.check(throttle_key("account", app.slug, target.slug, match.email), ip)
        await self._tenants.require_serving(target.id, app.id)
        signed_in_at = datetime.fromtimestamp(subject.auth_time, UTC)
        mfa_required = bool((await self._settings.effective(target.slug)).get("mfa_required"))
        detail = {
            "from_tenant": str(principal.tenant_id),
            "from_user": str(principal.app_user_id),
            "to_tenant": str(target.id),
            "to_user": str(match.app_user_id),
        }
        pair: TokenPair | None = None
        challenge: str | None = None
        async with self._db.tenant_transaction(TenantContext(target.id, app.id)) as tx:
            user = await users.get(tx, target.id, app.id, match.app_user_id)
            if user is None or user.status != "active":
                raise NotFound("you have no identity in that tenant for this app")
            if user.mfa_enabled:
                challenge = self._challenge(app, user.tenant_id, user.id, subject.auth_time)
            elif not mfa_required:
                pair = await self._starter.start_in(
                    tx, app, user, (EXCHANGE,), origin, user_agent, signed_in_at=signed_in_at
                )
                await self._record_in_target(tx, app, user.id, origin, detail)
        if challenge is not None:
            # The session opens when the target's second factor is given (`/auth/mfa`).
            detail["second_factor"] = "required"
            async with self._db.tenant_transaction(TenantContext(target.id, app.id)) as tx:
                await self._record_in_target(tx, app, match.app_user_id, origin, detail)
            await self._record_in_source(principal, origin, detail)
            raise MfaRequired(challenge)
        if pair is None:
            await self._refused(principal, origin, target.slug, "mfa_enrollment_required")
            raise MfaEnrollmentRequired(
                "that tenant requires a second factor: sign in there and enrol one first"
            )
        await self._throttle.succeeded(caller)
        await self._record_in_source(principal, origin, detail)
        return pair, target.id

    def _challenge(self, app: App, tenant_id: UUID, user_id: UUID, auth_time: int) -> str:
        """An MFA challenge for the target identity that remembers it came from an exchange
        (`amr`) and the subject's sign-in time, which the session opened by it keeps."""
        challenge, _ = self._tokens.issue(
            app_id=app.id,
            app_slug=app.slug,
            tenant_id=tenant_id,
            app_user_id=user_id,
            session_id=UUID(int=0),
            amr=(EXCHANGE,),
            auth_time=auth_time,
            use=MFA_CHALLENGE,
            ttl_seconds=MFA_CHALLENGE_TTL,
        )
        return challenge

    async def _record_in_target(
        self, tx: Transaction, app: App, user_id: UUID, origin: Origin, detail: dict[str, str]
    ) -> None:
        await self._events.record_in(
            tx,
            "token_exchange",
            tenant_id=UUID(detail["to_tenant"]),
            app_id=app.id,
            app_user_id=user_id,
            severity="info",
            origin=origin,
            detail=detail,
        )

    async def _record_in_source(
        self, principal: Principal, origin: Origin, detail: dict[str, str]
    ) -> None:
        await self._events.record(
            "token_exchange",
            tenant_id=principal.tenant_id,
            app_id=principal.app_id,
            app_user_id=principal.app_user_id,
            severity="info",
            origin=origin,
            detail=detail,
        )

    async def _refused(
        self, principal: Principal, origin: Origin, requested: str, reason: str
    ) -> None:
        await self._events.record(
            "token_exchange_refused",
            tenant_id=principal.tenant_id,
            app_id=principal.app_id,
            app_user_id=principal.app_user_id,
            origin=origin,
            detail={"requested_tenant": requested[:64], "reason": reason},
        )
