"""What a signed-in user does with their own account: profile, sessions, two-factor
enrolment, password change and API tokens. Every call runs in the principal's context after
its credential is re-checked (`Authenticator.transaction`)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pyotp

from tenantry.identity import passwords, totp
from tenantry.identity.models import TotpEnrollment
from tenantry.identity.principal import TOKEN_GRANTABLE
from tenantry.identity.repository import credentials, sessions, users
from tenantry.identity.tokens import TokenKind, new_token
from tenantry.kit.errors import Conflict, InvalidCredentials, InvalidInput, NotFound
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.identity.authentication import Authenticator
    from tenantry.identity.models import ApiToken, AppUser, Session
    from tenantry.identity.principal import Principal, Scope
    from tenantry.kit.db import Database, Transaction

RECOVERY_CODE_COUNT = 10


async def _own_user(tx: Transaction, principal: Principal) -> AppUser | None:
    return await users.get(tx, principal.tenant_id, principal.app_id, principal.app_user_id)


class Account:
    def __init__(self, db: Database, auth: Authenticator) -> None:
        self._db = db
        self._auth = auth

    async def me(self, principal: Principal) -> AppUser:
        checks = self._auth.credential_checks(principal)
        user = await users.read_user(self._db, principal.context, checks)
        if user is None:
            raise NotFound("no such user")
        return user

    async def sessions(self, principal: Principal) -> list[Session]:
        checks = self._auth.credential_checks(principal)
        return await sessions.read_sessions(self._db, principal.context, checks)

    async def revoke_session(self, principal: Principal, session_id: UUID) -> None:
        async with self._auth.transaction(principal) as tx:
            revoked = await sessions.revoke_session(
                tx,
                principal.tenant_id,
                principal.app_id,
                session_id,
                "revoked_by_user",
                user_id=principal.app_user_id,
            )
        if not revoked:
            raise NotFound("no such session")

    # Two-factor enrolment ----------------------------------------------------------------------

    async def start_totp(self, principal: Principal) -> TotpEnrollment:
        async with self._auth.transaction(principal) as tx:
            user = await _own_user(tx, principal)
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
        async with self._auth.transaction(principal) as tx:
            user = await _own_user(tx, principal)
            if user is None or user.mfa_secret is None:
                raise Conflict("start enrolment first")
            if user.mfa_enabled:
                raise Conflict("two-factor authentication is already enabled")
            step = totp.matching_step(user.mfa_secret, code)
            if step is None or not await users.use_totp_step(tx, user, step):
                raise InvalidInput("invalid code")
            await users.set_mfa(tx, user, user.mfa_secret, enabled=True)
            await credentials.replace_recovery_codes(
                tx, user, [totp.recovery_hash(c) for c in codes]
            )
            await notify_in(tx, str(principal.tenant_id))
        return codes

    # Password ----------------------------------------------------------------------------------

    async def change_password(
        self, principal: Principal, current: str, new: str, *, keep_api_tokens: bool
    ) -> None:
        """Change the password from a recently signed-in session. Every other session ends;
        API tokens are revoked too unless the user chooses to keep them. The user is read and
        written in two transactions, so none is held open while the passwords are hashed."""
        async with self._auth.transaction(principal) as tx:
            user = await _own_user(tx, principal)
        if user is None:
            raise NotFound("no such user")
        valid, _ = await passwords.verify_password(current, user.password_hash)
        if not valid:
            raise InvalidCredentials("the current password is wrong")
        passwords.check_policy(new, [user.email, user.display_name or "", principal.app_slug])
        new_hash = await passwords.hash_password(new)
        async with self._auth.transaction(principal) as tx:
            await users.set_password(tx, user, new_hash)
            await sessions.revoke_user_sessions(
                tx, user, "password_changed", keep=principal.session_id
            )
            if not keep_api_tokens:
                await credentials.revoke_user_api_tokens(tx, user)

    # API tokens --------------------------------------------------------------------------------

    async def create_api_token(
        self,
        principal: Principal,
        name: str,
        scopes: list[Scope],
        expires_in_days: int | None,
    ) -> tuple[ApiToken, str]:
        requested = frozenset(scopes)
        if not requested <= (TOKEN_GRANTABLE & principal.scopes):
            raise InvalidInput(
                "a token can only carry scopes its creator has, among profile, admin and platform"
            )
        token = new_token(TokenKind.API, principal.tenant_id)
        async with self._auth.transaction(principal) as tx:
            user = await _own_user(tx, principal)
            if user is None:
                raise NotFound("no such user")
            created = await credentials.create_api_token(
                tx,
                user,
                name=name,
                token_hash=token.hash,
                display_prefix=token.display_prefix,
                scopes=sorted(requested),
                expires_in_days=expires_in_days,
            )
        return created, token.value

    async def api_tokens(self, principal: Principal) -> list[ApiToken]:
        async with self._auth.transaction(principal) as tx:
            return await credentials.list_api_tokens(
                tx, principal.tenant_id, principal.app_id, principal.app_user_id
            )

    async def revoke_api_token(self, principal: Principal, token_id: UUID) -> None:
        async with self._auth.transaction(principal) as tx:
            revoked = await credentials.revoke_api_token(
                tx, principal.tenant_id, principal.app_id, principal.app_user_id, token_id
            )
        if not revoked:
            raise NotFound("no such token")
