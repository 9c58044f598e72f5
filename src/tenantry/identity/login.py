"""Signing in: password login (and its MFA step), refresh-token rotation, logout.

Login's writes are as few transactions as correctness allows:
- failures are counted by the throttle in its own platform transaction (the counters live
  where only the platform role reaches), so a count stands whatever happens to the attempt;
- the user is read in one tenant transaction and written in another: the password is verified
  in between, and a transaction (and its pooled connection) is not held open for that slow hash;
- everything a successful sign-in writes (an upgraded password hash, the session, its first
  refresh token, the last-login time; for the MFA step, the used code too) is one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from tenantry.identity import passwords, totp
from tenantry.identity.access_tokens import EXCHANGE, MFA_CHALLENGE
from tenantry.identity.models import TokenPair
from tenantry.identity.repository import credentials, sessions, users
from tenantry.identity.tenancy import has_app
from tenantry.identity.throttle import throttle_key
from tenantry.identity.tokens import TokenKind, new_token, parse_token
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import InvalidCredentials, InvalidInput, MfaRequired, Unauthorized

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tenantry.apps.models import App
    from tenantry.apps.service import AppDirectory
    from tenantry.identity.access_tokens import TokenService, VerifiedToken
    from tenantry.identity.authentication import Authenticator
    from tenantry.identity.models import AppUser
    from tenantry.identity.principal import Principal
    from tenantry.identity.tenancy import TenantGate
    from tenantry.identity.throttle import LoginThrottle
    from tenantry.identity.tokens import OpaqueToken
    from tenantry.kit.db import Database, Transaction
    from tenantry.security_events.service import Origin, SecurityEvents

MFA_CHALLENGE_TTL = 300


class SessionStarter:
    """Opens a session for a user who just proved who they are, in the caller's transaction."""

    def __init__(self, tokens: TokenService, ttl_seconds: int) -> None:
        self._tokens = tokens
        self._ttl = ttl_seconds

    async def start_in(
        self,
        tx: Transaction,
        app: App,
        user: AppUser,
        amr: tuple[str, ...],
        origin: Origin,
        user_agent: str | None,
        *,
        signed_in_at: datetime | None = None,
    ) -> TokenPair:
        """`signed_in_at`: when the person last proved who they are, if not just now (a token
        exchange carries its subject session's sign-in, so it never looks recent)."""
        # First, so a deactivation that commits meanwhile is waited for and wins.
        if not await users.mark_login(tx, user):
            raise InvalidCredentials("invalid email or password")
        refresh = new_token(TokenKind.REFRESH, user.tenant_id)
        session = await sessions.create_session(
            tx,
            user,
            auth_method="+".join(amr),
            ttl_seconds=self._ttl,
            ip=origin.ip,
            user_agent=user_agent,
            signed_in_at=signed_in_at,
        )
        await sessions.add_refresh_token(tx, user.tenant_id, app.id, session.id, refresh.hash)
        return self.pair(
            app,
            user.tenant_id,
            user.id,
            session.id,
            amr,
            signed_in_at or session.created_at,
            refresh,
        )

    def pair(
        self,
        app: App,
        tenant_id: UUID,
        user_id: UUID,
        session_id: UUID,
        amr: tuple[str, ...],
        signed_in_at: datetime,
        refresh: OpaqueToken,
    ) -> TokenPair:
        """A session's new access token, beside its refresh token."""
        access, ttl = self._tokens.issue(
            app_id=app.id,
            app_slug=app.slug,
            tenant_id=tenant_id,
            app_user_id=user_id,
            session_id=session_id,
            amr=amr,
            auth_time=int(signed_in_at.timestamp()),
        )
        return TokenPair(access, refresh.value, ttl, session_id)


class Login:
    def __init__(
        self,
        db: Database,
        apps: AppDirectory,
        tenants: TenantGate,
        tokens: TokenService,
        throttle: LoginThrottle,
        events: SecurityEvents,
        sessions: SessionStarter,
        auth: Authenticator,
        tenant_by_domain: Callable[[str], Awaitable[str | None]],
    ) -> None:
        self._db = db
        self._apps = apps
        self._tenants = tenants
        self._tokens = tokens
        self._throttle = throttle
        self._events = events
        self._sessions = sessions
        self._auth = auth
        self._tenant_by_domain = tenant_by_domain

    async def login(
        self,
        app: App,
        tenant_slug: str | None,
        email: str,
        password: str,
        origin: Origin,
        user_agent: str | None,
    ) -> TokenPair:
        if tenant_slug is None:
            # No tenant named: the one that verified the domain of the email, if any.
            tenant_slug = await self._tenant_by_domain(email.rpartition("@")[2]) or ""
        account = throttle_key("account", app.slug, tenant_slug, email.strip().lower())
        ip = throttle_key("ip", origin.ip or "")
        await self._throttle.check(account, ip)
        tenant = await self._tenants.by_slug(tenant_slug) if tenant_slug else None
        user = None
        if tenant is not None and has_app(tenant, app.id):
            # Refused before the password is looked at: a suspended tenant answers the same
            # for every password, so it cannot serve as a password oracle.
            await self._tenants.require_serving(tenant.id, app.id)
            async with self._db.tenant_transaction(TenantContext(tenant.id, app.id)) as tx:
                user = await users.get_by_email(tx, tenant.id, app.id, email)
        # Unknown tenant, unknown user and wrong password all cost one argon2 verification and
        # end in the same answer, so the response does not tell which it was.
        valid, new_hash = await passwords.verify_password(
            password, user.password_hash if user else None
        )
        if user is None or not valid or user.status != "active":
            locked = await self._throttle.failed(account, ip)
            if locked and user is not None:
                await self._events.record(
                    "account_locked",
                    tenant_id=user.tenant_id,
                    app_id=app.id,
                    app_user_id=user.id,
                    origin=origin,
                )
            raise InvalidCredentials("invalid email or password")
        await self._throttle.succeeded(account)
        pair = None
        async with self._db.tenant_transaction(TenantContext(user.tenant_id, app.id)) as tx:
            if new_hash is not None:
                await users.set_password(tx, user, new_hash)
            if not user.mfa_enabled:
                pair = await self._sessions.start_in(tx, app, user, ("pwd",), origin, user_agent)
        if pair is None:
            raise MfaRequired(self._mfa_challenge(app, user))
        return pair

    def _mfa_challenge(self, app: App, user: AppUser) -> str:
        challenge, _ = self._tokens.issue(
            app_id=app.id,
            app_slug=app.slug,
            tenant_id=user.tenant_id,
            app_user_id=user.id,
            session_id=UUID(int=0),
            amr=("pwd",),
            use=MFA_CHALLENGE,
            ttl_seconds=MFA_CHALLENGE_TTL,
        )
        return challenge

    async def complete_mfa(
        self, app: App, challenge: str, code: str, origin: Origin, user_agent: str | None
    ) -> TokenPair:
        verified = await self._tokens.verify(challenge, self._apps.slugs_by_id, use=MFA_CHALLENGE)
        if verified.app_id != app.id:
            raise Unauthorized("challenge issued for another app")
        account = throttle_key("mfa", str(verified.tenant_id), str(verified.app_user_id))
        ip = throttle_key("ip", origin.ip or "")
        await self._throttle.check(account, ip)
        await self._tenants.require_serving(verified.tenant_id, app.id)
        pair = None
        # The code is used up in the transaction that opens the session: both or neither.
        async with self._db.tenant_transaction(TenantContext(verified.tenant_id, app.id)) as tx:
            user = await users.get(tx, verified.tenant_id, app.id, verified.app_user_id)
            if (
                user is None
                or user.status != "active"
                or not user.mfa_enabled
                or user.mfa_secret is None
            ):
                raise Unauthorized("invalid challenge")
            method = await _use_second_factor(tx, user, user.mfa_secret, code)
            if method is not None:
                # The first step's methods (a password, or a token exchange) and this one's.
                amr = (*verified.amr, method, "mfa")
                pair = await self._sessions.start_in(
                    tx, app, user, amr, origin, user_agent, signed_in_at=_first_step(verified)
                )
        if pair is None:
            await self._throttle.failed(account, ip)
            raise InvalidCredentials("invalid code")
        await self._throttle.succeeded(account)
        return pair

    async def refresh(self, app: App, value: str, origin: Origin) -> TokenPair:
        parsed = parse_token(value, TokenKind.REFRESH)
        if parsed is None:
            raise Unauthorized("invalid refresh token")
        # A suspended tenant's sessions stay frozen: no new access tokens.
        await self._tenants.require_serving(parsed.tenant_id, app.id)
        replayed = False
        next_token = new_token(TokenKind.REFRESH, parsed.tenant_id)
        async with self._db.tenant_transaction(TenantContext(parsed.tenant_id, app.id)) as tx:
            state = await sessions.take_refresh_token(tx, parsed.tenant_id, app.id, parsed.hash)
            if state is None or not state.session_active:
                raise Unauthorized("invalid refresh token")
            if state.used:
                # A used refresh token presented again: someone holds a stolen copy. End the
                # whole session family, for the thief and the legitimate holder alike; the
                # event commits with the revocation.
                await sessions.revoke_session(
                    tx, parsed.tenant_id, app.id, state.session_id, "refresh_token_reuse"
                )
                await self._events.record_in(
                    tx,
                    "refresh_token_reuse",
                    tenant_id=parsed.tenant_id,
                    app_id=app.id,
                    app_user_id=state.app_user_id,
                    severity="critical",
                    origin=origin,
                    detail={"session_id": str(state.session_id)},
                )
                replayed = True
            else:
                await sessions.use_refresh_token(tx, parsed.tenant_id, state.token_id)
                await sessions.add_refresh_token(
                    tx, parsed.tenant_id, app.id, state.session_id, next_token.hash
                )
        if replayed:
            raise Unauthorized("refresh token already used; the session has been revoked")
        return self._sessions.pair(
            app,
            parsed.tenant_id,
            state.app_user_id,
            state.session_id,
            ("refresh",),
            state.signed_in_at,
            next_token,
        )

    async def logout(self, principal: Principal) -> None:
        if principal.session_id is None:
            raise InvalidInput("API tokens have no session; revoke the token instead")
        async with self._auth.transaction(principal) as tx:
            await sessions.revoke_session(
                tx, principal.tenant_id, principal.app_id, principal.session_id, "logout"
            )


def _first_step(verified: VerifiedToken) -> datetime | None:
    """A token exchange's challenge carries its subject session's sign-in, which the new
    session keeps; a password's challenge is a sign-in of its own."""
    return datetime.fromtimestamp(verified.auth_time, UTC) if EXCHANGE in verified.amr else None


async def _use_second_factor(tx: Transaction, user: AppUser, secret: str, code: str) -> str | None:
    """Use up `code` (a TOTP code, else a recovery code); its method, or None if it is no good.
    A TOTP code is good once: a replayed (or older) step is refused like a wrong code."""
    step = totp.matching_step(secret, code)
    if step is not None:
        return "otp" if await users.use_totp_step(tx, user, step) else None
    if await credentials.use_recovery_code(tx, user, totp.recovery_hash(code)):
        return "recovery_code"
    return None
