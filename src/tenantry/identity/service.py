"""Identity: sign-up, login with throttling and MFA, sessions with rotating refresh tokens,
email verification, password reset, API tokens and external identities.

Every identity lives in one tenant AND one app: the same email in two apps is two accounts with
their own passwords, MFA and sessions. All reads and writes run in that tenant/app's signed
context, so row-level security backs every check made here.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

import pyotp

from tenantry.identity import correlation, passwords, totp
from tenantry.identity import repository as users
from tenantry.identity.access_tokens import MFA_CHALLENGE, TokenService
from tenantry.identity.principal import (
    ADMIN_APP,
    TOKEN_GRANTABLE,
    Credential,
    Principal,
    Scope,
    session_scopes,
)
from tenantry.identity.schemas import normalize_email
from tenantry.identity.throttle import LoginThrottle, throttle_key
from tenantry.identity.tokens import TokenKind, new_token, parse_token
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import (
    AppMismatch,
    Conflict,
    InvalidCredentials,
    InvalidInput,
    MfaRequired,
    NotFound,
    TenantMismatch,
    Unauthorized,
)
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from tenantry.apps.repository import App
    from tenantry.apps.service import AppDirectory
    from tenantry.identity.external import JwksCache
    from tenantry.identity.tenancy import TenantGate
    from tenantry.kit.config import Settings
    from tenantry.kit.db import Database, Requirement, Transaction
    from tenantry.security_events.service import Origin, SecurityEvents

VERIFY_EMAIL_TTL = 24 * 3600
RESET_PASSWORD_TTL = 3600
MFA_CHALLENGE_TTL = 300
RECOVERY_CODE_COUNT = 10
# Mail sent on request of anonymous callers (verification, password reset, "you already have an
# account"): at most this many of one kind to one address per window; further requests are
# accepted as usual but send nothing, so a stranger cannot flood someone's inbox.
MAIL_PER_ADDRESS = 3
MAIL_WINDOW_SECONDS = 3600


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


def _recovery_hash(code: str) -> bytes:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).digest()


class IdentityService:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        apps: AppDirectory,
        tenants: TenantGate,
        tokens: TokenService,
        throttle: LoginThrottle,
        events: SecurityEvents,
        jwks: JwksCache,
        tenant_by_domain: Callable[[str], Awaitable[str | None]],
    ) -> None:
        self._db = db
        self._settings = settings
        self._apps = apps
        self._tenants = tenants
        self._tokens = tokens
        self._throttle = throttle
        self._events = events
        self._jwks = jwks
        self._tenant_by_domain = tenant_by_domain

    # Authentication of requests --------------------------------------------------------------

    async def authenticate(
        self, app: App, bearer: str, origin: Origin, claimed_tenant: str | None
    ) -> Principal:
        if bearer.startswith(TokenKind.API.value):
            principal = await self._authenticate_api_token(app, bearer)
        else:
            principal = await self._authenticate_access_token(app, bearer, origin)
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

    async def _authenticate_access_token(self, app: App, token: str, origin: Origin) -> Principal:
        verified = await self._tokens.verify(token, self._apps.slugs_by_id)
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
        signed_in_ago = time.time() - verified.auth_time
        return Principal(
            tenant_id=verified.tenant_id,
            app_id=app.id,
            app_slug=app.slug,
            app_user_id=verified.app_user_id,
            credential=Credential.ACCESS_TOKEN,
            scopes=session_scopes(
                app.slug,
                platform=tenant.slug == self._settings.platform_tenant,
                recent=signed_in_ago <= self._settings.reauthentication_max_age_seconds,
            ),
            session_id=verified.session_id,
        )

    async def _authenticate_api_token(self, app: App, value: str) -> Principal:
        parsed = parse_token(value, TokenKind.API)
        if parsed is None:
            raise Unauthorized("malformed API token")
        tenant = await self._tenants.get(parsed.tenant_id)
        if tenant is None or app.id not in tenant.app_ids:
            raise Unauthorized("invalid API token")
        async with self._db.tenant_transaction(TenantContext(tenant.id, app.id)) as tx:
            token = await users.find_api_token(tx, tenant.id, app.id, parsed.hash)
        if token is None:
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
        return [
            users.active_session_check(
                principal.tenant_id,
                principal.app_id,
                principal.session_id,
                principal.app_user_id,
                Unauthorized("session revoked or expired"),
            )
        ]

    # Sign-up and email verification ----------------------------------------------------------

    async def _tenant_for(self, app: App, tenant_slug: str) -> UUID:
        tenant = await self._tenants.by_slug(tenant_slug)
        if tenant is None or app.id not in tenant.app_ids:
            raise NotFound("no such tenant for this app")
        await self._tenants.require_serving(tenant.id, app.id)
        return tenant.id

    async def signup(
        self, app: App, tenant_slug: str, email: str, password: str, display_name: str | None
    ) -> None:
        """Create an identity and mail a verification code. The answer is the same whether or
        not the email already has an account here (its owner is mailed instead), so sign-up
        cannot be used to find out who has one."""
        if app.slug == ADMIN_APP:
            # Administrators are invited (provisioning) or created by an operator, never
            # self-registered: an admin-app identity carries tenant (or platform) powers.
            raise NotFound("sign-up is not available for this app")
        tenant_id = await self._tenant_for(app, tenant_slug)
        passwords.check_policy(password, [email, display_name or "", tenant_slug, app.slug])
        # Hashed before looking the email up, so both outcomes cost the same time.
        password_hash = await passwords.hash_password(password)
        context = TenantContext(tenant_id, app.id)
        try:
            async with self._db.tenant_transaction(context) as tx:
                user = await users.get_by_email(tx, tenant_id, app.id, email)
                if user is None:
                    user = await users.create(
                        tx, tenant_id, app.id, email, display_name, password_hash=password_hash
                    )
                    await self._send_one_time_token(tx, user, "verify_email", VERIFY_EMAIL_TTL)
                    created = True
                else:
                    await self._mail_existing_owner(tx, user)
                    created = False
        except Conflict:
            # A concurrent sign-up with the same email won the race: the account exists now.
            async with self._db.tenant_transaction(context) as tx:
                existing = await users.get_by_email(tx, tenant_id, app.id, email)
                if existing is not None:
                    await self._mail_existing_owner(tx, existing)
            return
        if created:
            await self._correlate(user)

    async def _mail_existing_owner(self, tx: Transaction, user: users.AppUser) -> None:
        await self._queue_limited_mail(
            tx,
            user,
            "Someone tried to sign up with your email address",
            "Someone tried to create an account with this email address, which already has one."
            "\n\nIf it was you, sign in instead, or reset your password if you forgot it. "
            "If not, you can ignore this mail: nothing has changed.",
        )

    async def _queue_limited_mail(
        self, tx: Transaction, user: users.AppUser, subject: str, body: str
    ) -> bool:
        """Queue a mail unless this address got `MAIL_PER_ADDRESS` of this kind recently."""
        sent = await users.mails_sent_recently(
            tx, user.tenant_id, user.app_id, user.email, subject, MAIL_WINDOW_SECONDS
        )
        if sent >= MAIL_PER_ADDRESS:
            return False
        await users.queue_mail(tx, user.tenant_id, user.app_id, user.email, subject, body)
        return True

    async def _correlate(self, user: users.AppUser) -> None:
        async with self._db.platform_transaction() as tx:
            await correlation.correlate(tx, user.tenant_id, user.app_id, user.id, user.email)

    async def _send_one_time_token(
        self, tx: Transaction, user: users.AppUser, purpose: str, ttl: int
    ) -> None:
        token = new_token(TokenKind.ONE_TIME, user.tenant_id)
        subject, action = {
            "verify_email": ("Verify your email address", "verify your email address"),
            "reset_password": ("Reset your password", "choose a new password"),
        }[purpose]
        body = (
            f"Use this code to {action}:\n\n{token.value}\n\n"
            f"It expires in {ttl // 3600 or 1} hour(s). "
            "If you did not ask for it, ignore this mail."
        )
        if await self._queue_limited_mail(tx, user, subject, body):
            await users.add_one_time_token(tx, user, purpose, token.hash, ttl)

    async def verify_email(self, app: App, value: str) -> None:
        parsed = parse_token(value, TokenKind.ONE_TIME)
        if parsed is None:
            raise InvalidInput("invalid or expired code")
        async with self._db.tenant_transaction(TenantContext(parsed.tenant_id, app.id)) as tx:
            user_id = await users.use_one_time_token(
                tx, parsed.tenant_id, app.id, "verify_email", parsed.hash
            )
            if user_id is None:
                raise InvalidInput("invalid or expired code")
            await users.mark_email_verified(tx, user_id, parsed.tenant_id, app.id)
            await notify_in(tx, str(parsed.tenant_id))  # the cached tenant context shows it

    # Login, MFA, refresh, logout -------------------------------------------------------------

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
        if tenant is not None and app.id in tenant.app_ids:
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
        assert tenant is not None
        await self._throttle.succeeded(account)
        if new_hash is not None:
            async with self._db.tenant_transaction(TenantContext(tenant.id, app.id)) as tx:
                await users.set_password(tx, user, new_hash)
        if user.mfa_enabled:
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
            raise MfaRequired(challenge)
        return await self._start_session(app, user, ("pwd",), origin, user_agent)

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
        async with self._db.tenant_transaction(TenantContext(verified.tenant_id, app.id)) as tx:
            user = await users.get(tx, verified.tenant_id, app.id, verified.app_user_id)
            if user is None or not user.mfa_enabled or user.mfa_secret is None:
                raise Unauthorized("invalid challenge")
            step = totp.matching_step(user.mfa_secret, code)
            # A code is good once: a replayed (or older) step is refused like a wrong code.
            ok = step is not None and await users.use_totp_step(tx, user, step)
            method = "otp"
            if not ok and step is None:
                ok = await users.use_recovery_code(tx, user, _recovery_hash(code))
                method = "recovery_code"
        if not ok:
            await self._throttle.failed(account, ip)
            raise InvalidCredentials("invalid code")
        await self._throttle.succeeded(account)
        return await self._start_session(app, user, ("pwd", method, "mfa"), origin, user_agent)

    async def _start_session(
        self,
        app: App,
        user: users.AppUser,
        amr: tuple[str, ...],
        origin: Origin,
        user_agent: str | None,
    ) -> TokenPair:
        refresh = new_token(TokenKind.REFRESH, user.tenant_id)
        async with self._db.tenant_transaction(TenantContext(user.tenant_id, app.id)) as tx:
            session = await users.create_session(
                tx,
                user,
                auth_method="+".join(amr),
                ttl_seconds=self._settings.session_ttl_seconds,
                ip=origin.ip,
                user_agent=user_agent,
            )
            await users.add_refresh_token(tx, user.tenant_id, app.id, session.id, refresh.hash)
            await users.mark_login(tx, user)
        access, ttl = self._tokens.issue(
            app_id=app.id,
            app_slug=app.slug,
            tenant_id=user.tenant_id,
            app_user_id=user.id,
            session_id=session.id,
            amr=amr,
            auth_time=int(session.created_at.timestamp()),
        )
        return TokenPair(access, refresh.value, ttl, session.id)

    async def refresh(self, app: App, value: str, origin: Origin) -> TokenPair:
        parsed = parse_token(value, TokenKind.REFRESH)
        if parsed is None:
            raise Unauthorized("invalid refresh token")
        # A suspended tenant's sessions stay frozen: no new access tokens.
        await self._tenants.require_serving(parsed.tenant_id, app.id)
        replay = None
        next_token = new_token(TokenKind.REFRESH, parsed.tenant_id)
        async with self._db.tenant_transaction(TenantContext(parsed.tenant_id, app.id)) as tx:
            state = await users.take_refresh_token(tx, parsed.tenant_id, app.id, parsed.hash)
            if state is None or not state.session_active:
                raise Unauthorized("invalid refresh token")
            if state.used:
                # A used refresh token presented again: someone holds a stolen copy. End the
                # whole session family, for the thief and the legitimate holder alike.
                await users.revoke_session(
                    tx, parsed.tenant_id, app.id, state.session_id, "refresh_token_reuse"
                )
                replay = state
            else:
                await users.use_refresh_token(tx, parsed.tenant_id, state.token_id)
                await users.add_refresh_token(
                    tx, parsed.tenant_id, app.id, state.session_id, next_token.hash
                )
        if replay is not None:
            await self._events.record(
                "refresh_token_reuse",
                tenant_id=parsed.tenant_id,
                app_id=app.id,
                app_user_id=replay.app_user_id,
                severity="critical",
                origin=origin,
                detail={"session_id": str(replay.session_id)},
            )
            raise Unauthorized("refresh token already used; the session has been revoked")
        access, ttl = self._tokens.issue(
            app_id=app.id,
            app_slug=app.slug,
            tenant_id=parsed.tenant_id,
            app_user_id=state.app_user_id,
            session_id=state.session_id,
            amr=("refresh",),
            auth_time=int(state.signed_in_at.timestamp()),
        )
        return TokenPair(access, next_token.value, ttl, state.session_id)

    async def logout(self, principal: Principal) -> None:
        if principal.session_id is None:
            raise InvalidInput("API tokens have no session; revoke the token instead")
        async with self.transaction(principal) as tx:
            await users.revoke_session(
                tx, principal.tenant_id, principal.app_id, principal.session_id, "logout"
            )

    # Profile and sessions --------------------------------------------------------------------

    async def me(self, principal: Principal) -> users.AppUser:
        checks = self.credential_checks(principal)
        user = await users.read_user(self._db, principal.context, checks)
        if user is None:
            raise NotFound("no such user")
        return user

    async def sessions(self, principal: Principal) -> list[users.Session]:
        checks = self.credential_checks(principal)
        return await users.read_sessions(self._db, principal.context, checks)

    async def revoke_session(self, principal: Principal, session_id: UUID) -> None:
        async with self.transaction(principal) as tx:
            revoked = await users.revoke_session(
                tx,
                principal.tenant_id,
                principal.app_id,
                session_id,
                "revoked_by_user",
                user_id=principal.app_user_id,
            )
        if not revoked:
            raise NotFound("no such session")

    # TOTP ------------------------------------------------------------------------------------

    async def start_totp(self, principal: Principal) -> TotpEnrollment:
        async with self.transaction(principal) as tx:
            user = await users.get(tx, principal.tenant_id, principal.app_id, principal.app_user_id)
            if user is None:
                raise NotFound("no such user")
            if user.mfa_enabled:
                raise Conflict("two-factor authentication is already enabled")
            secret = pyotp.random_base32()
            await users.set_mfa(tx, user, secret, enabled=False)
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=principal.app_slug)
        return TotpEnrollment(secret, uri)

    async def confirm_totp(self, principal: Principal, code: str) -> list[str]:
        codes = [
            f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)
        ]
        async with self.transaction(principal) as tx:
            user = await users.get(tx, principal.tenant_id, principal.app_id, principal.app_user_id)
            if user is None or user.mfa_secret is None:
                raise Conflict("start enrolment first")
            if user.mfa_enabled:
                raise Conflict("two-factor authentication is already enabled")
            step = totp.matching_step(user.mfa_secret, code)
            if step is None or not await users.use_totp_step(tx, user, step):
                raise InvalidInput("invalid code")
            await users.set_mfa(tx, user, user.mfa_secret, enabled=True)
            await users.replace_recovery_codes(tx, user, [_recovery_hash(c) for c in codes])
            await notify_in(tx, str(principal.tenant_id))
        return codes

    # Password reset --------------------------------------------------------------------------

    async def request_password_reset(self, app: App, tenant_slug: str, email: str) -> None:
        """Always succeeds from the caller's view, so it cannot reveal which accounts exist."""
        tenant = await self._tenants.by_slug(tenant_slug)
        if tenant is None or app.id not in tenant.app_ids or tenant.status != "active":
            return
        async with self._db.tenant_transaction(TenantContext(tenant.id, app.id)) as tx:
            user = await users.get_by_email(tx, tenant.id, app.id, email)
            if user is not None and user.status == "active":
                await self._send_one_time_token(tx, user, "reset_password", RESET_PASSWORD_TTL)

    async def reset_password(self, app: App, value: str, password: str) -> None:
        parsed = parse_token(value, TokenKind.ONE_TIME)
        if parsed is None:
            raise InvalidInput("invalid or expired code")
        context = TenantContext(parsed.tenant_id, app.id)
        async with self._db.tenant_transaction(context) as tx:
            user_id = await users.use_one_time_token(
                tx, parsed.tenant_id, app.id, "reset_password", parsed.hash
            )
            user = await users.get(tx, parsed.tenant_id, app.id, user_id) if user_id else None
            if user is None:
                raise InvalidInput("invalid or expired code")
            passwords.check_policy(password, [user.email, user.display_name or "", app.slug])
            await users.set_password(tx, user, await passwords.hash_password(password))
            # "Reset my password" locks everyone out: every session and every API token.
            await users.revoke_user_sessions(tx, user, "password_reset")
            await users.revoke_user_api_tokens(tx, user)

    async def change_password(
        self, principal: Principal, current: str, new: str, *, keep_api_tokens: bool
    ) -> None:
        """Change the password from a recently signed-in session. Every other session ends;
        API tokens are revoked too unless the user chooses to keep them."""
        async with self.transaction(principal) as tx:
            user = await users.get(tx, principal.tenant_id, principal.app_id, principal.app_user_id)
        if user is None:
            raise NotFound("no such user")
        valid, _ = await passwords.verify_password(current, user.password_hash)
        if not valid:
            raise InvalidCredentials("the current password is wrong")
        passwords.check_policy(new, [user.email, user.display_name or "", principal.app_slug])
        new_hash = await passwords.hash_password(new)
        async with self.transaction(principal) as tx:
            await users.set_password(tx, user, new_hash)
            await users.revoke_user_sessions(
                tx, user, "password_changed", keep=principal.session_id
            )
            if not keep_api_tokens:
                await users.revoke_user_api_tokens(tx, user)

    # API tokens ------------------------------------------------------------------------------

    async def create_api_token(
        self,
        principal: Principal,
        name: str,
        scopes: list[Scope],
        expires_in_days: int | None,
    ) -> tuple[users.ApiToken, str]:
        requested = frozenset(scopes)
        if not requested <= (TOKEN_GRANTABLE & principal.scopes):
            raise InvalidInput(
                "a token can only carry scopes its creator has, among profile, admin and platform"
            )
        token = new_token(TokenKind.API, principal.tenant_id)
        async with self.transaction(principal) as tx:
            user = await users.get(tx, principal.tenant_id, principal.app_id, principal.app_user_id)
            if user is None:
                raise NotFound("no such user")
            created = await users.create_api_token(
                tx,
                user,
                name=name,
                token_hash=token.hash,
                display_prefix=token.display_prefix,
                scopes=sorted(requested),
                expires_in_days=expires_in_days,
            )
        return created, token.value

    async def api_tokens(self, principal: Principal) -> list[users.ApiToken]:
        async with self.transaction(principal) as tx:
            return await users.list_api_tokens(
                tx, principal.tenant_id, principal.app_id, principal.app_user_id
            )

    async def revoke_api_token(self, principal: Principal, token_id: UUID) -> None:
        async with self.transaction(principal) as tx:
            revoked = await users.revoke_api_token(
                tx, principal.tenant_id, principal.app_id, principal.app_user_id, token_id
            )
        if not revoked:
            raise NotFound("no such token")

    # External identities ---------------------------------------------------------------------

    async def external_login(
        self, app: App, tenant_slug: str, id_token: str, origin: Origin, user_agent: str | None
    ) -> TokenPair:
        from tenantry.identity.external import unverified_issuer  # noqa: PLC0415

        if app.slug == ADMIN_APP:
            raise NotFound("external sign-in is not available for this app")
        tenant_id = await self._tenant_for(app, tenant_slug)
        context = TenantContext(tenant_id, app.id)
        async with self._db.tenant_transaction(context) as tx:
            issuer = await users.get_external_issuer(
                tx, tenant_id, app.id, unverified_issuer(id_token)
            )
        if issuer is None:
            raise Unauthorized("issuer not trusted by this app")
        identity = await self._jwks.verify(id_token, issuer, self._settings.clock_skew_seconds)
        created = False
        async with self._db.tenant_transaction(context) as tx:
            user_id = await users.linked_user(
                tx, tenant_id, app.id, identity.issuer, identity.subject
            )
            user = await users.get(tx, tenant_id, app.id, user_id) if user_id else None
            if user is None:
                if identity.email is None or not identity.email_verified:
                    raise Unauthorized("the external identity has no verified email")
                email = normalize_email(identity.email)
                if email is None:
                    raise Unauthorized("the external identity's email is not a valid address")
                # Never attach an external identity to an existing local account on the
                # issuer's word alone: whoever controls a trusted issuer could then sign in
                # as anyone. The first sign-in through an issuer creates a new identity.
                if await users.get_by_email(tx, tenant_id, app.id, email):
                    raise Conflict(
                        "an account with this email already exists in this app; "
                        "sign in with it to use this identity provider"
                    )
                user = await users.create(tx, tenant_id, app.id, email, email_verified=True)
                created = True
                await users.link_identity(tx, user, identity.issuer, identity.subject)
        if created:
            await self._correlate(user)
        return await self._start_session(app, user, ("ext",), origin, user_agent)

    async def trust_issuer(
        self, principal: Principal, app: App, issuer: str, audience: str, jwks_uri: str
    ) -> users.ExternalIssuer:
        """A tenant administrator makes one of the tenant's apps trust an external issuer."""
        if not principal.is_tenant_admin:
            raise NotFound("not found")
        await self._tenants.require_serving(principal.tenant_id, app.id)
        async with self._db.tenant_transaction(TenantContext(principal.tenant_id, app.id)) as tx:
            if await users.get_external_issuer(tx, principal.tenant_id, app.id, issuer):
                raise Conflict("this issuer is already trusted by the app")
            return await users.add_external_issuer(
                tx, principal.tenant_id, app.id, issuer, audience, jwks_uri
            )

    # Cross-app correlation (tenant administrators, platform path) ------------------------------

    async def identities(
        self, principal: Principal, *, email: str | None = None, person_id: UUID | None = None
    ) -> list[correlation.AppIdentity]:
        if not principal.is_tenant_admin:
            raise NotFound("not found")
        async with self._db.platform_transaction() as tx:
            if person_id is not None:
                return await correlation.identities_of_person(tx, principal.tenant_id, person_id)
            if email is None:
                raise InvalidInput("give an email or a person id")
            return await correlation.identities_by_email(tx, principal.tenant_id, email)
