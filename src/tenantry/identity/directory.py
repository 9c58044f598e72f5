"""Identities as the rest of the platform creates them: a provisioned tenant's first
administrator, platform administrators, demo data and test fixtures.

Self-service sign-up and sign-in live in `IdentityService`; this is the door other features and
the operator's tools use, so none of them touches the identity tables itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.repository import correlation, credentials, mail, sessions, users
from tenantry.identity.tokens import TokenKind, new_token
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import Conflict, InvalidInput, NotFound
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.identity.models import AppUser
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction

INVITATION_TTL = 7 * 24 * 3600


class UserDirectory:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(self, tenant_id: UUID, app_id: UUID, email: str) -> AppUser | None:
        async with self._db.tenant_transaction(TenantContext(tenant_id, app_id)) as tx:
            return await users.get_by_email(tx, tenant_id, app_id, email)

    async def add(
        self,
        tenant_id: UUID,
        app_id: UUID,
        email: str,
        display_name: str | None = None,
        *,
        password_hash: str | None,
        email_verified: bool = True,
        preferences: dict[str, object] | None = None,
    ) -> AppUser:
        """A ready-to-use identity (no verification mail), linked to the same person's
        identities in the tenant's other apps. An existing account is a conflict."""
        async with self._db.tenant_transaction(TenantContext(tenant_id, app_id)) as tx:
            if await users.get_by_email(tx, tenant_id, app_id, email) is not None:
                raise Conflict(f"{email} already has an account in this app")
            user = await users.create(
                tx,
                tenant_id,
                app_id,
                email,
                display_name,
                password_hash=password_hash,
                email_verified=email_verified,
            )
            await correlation.correlate_user(tx, user)
            for key, value in (preferences or {}).items():
                await users.set_preference(tx, user, key, value)
        return user

    async def invite_in(
        self,
        tx: Transaction,
        tenant_id: UUID,
        app_id: UUID,
        email: str,
        display_name: str,
        *,
        subject: str,
        body: str,
    ) -> AppUser:
        """Create an identity without a password inside the caller's transaction and mail it a
        single-use code to choose one. `body` holds `{code}` where the code goes."""
        user = await users.create(tx, tenant_id, app_id, email, display_name)
        invitation = new_token(TokenKind.ONE_TIME, tenant_id)
        await credentials.add_one_time_token(
            tx, user, "reset_password", invitation.hash, INVITATION_TTL
        )
        await mail.queue_mail(
            tx, tenant_id, app_id, email, subject, body.format(code=invitation.value)
        )
        return user

    # Invitations and deactivation (the invitations feature), in the caller's transaction ------

    @staticmethod
    async def find_in(tx: Transaction, tenant_id: UUID, app_id: UUID, email: str) -> AppUser | None:
        return await users.get_by_email(tx, tenant_id, app_id, email)

    @staticmethod
    async def active_addresses_in(
        tx: Transaction, tenant_id: UUID, app_id: UUID, limit: int = 50
    ) -> list[str]:
        """The active users' addresses in the transaction's context (it must be the app's)."""
        return await users.active_addresses(tx, tenant_id, app_id, limit)

    @staticmethod
    async def queue_mail_in(
        tx: Transaction, tenant_id: UUID, app_id: UUID, to: str, subject: str, body: str
    ) -> None:
        """A mail in the outbox, committed (or not) with the caller's change."""
        await mail.queue_mail(tx, tenant_id, app_id, to, subject, body)

    @staticmethod
    async def accept_invitation_in(
        tx: Transaction,
        tenant_id: UUID,
        app_id: UUID,
        email: str,
        display_name: str | None,
        *,
        password_hash: str | None,
    ) -> tuple[AppUser, bool]:
        """The invited address's identity, created (with the chosen password) or reused, its
        address verified and proven by the accepted invitation; (user, created).

        Reusing an identity with a new password is a password reset by the same proof (the
        mailed token), so it ends that identity's sessions and API tokens the same way."""
        user = await users.get_by_email(tx, tenant_id, app_id, email)
        created = user is None
        if user is None:
            if password_hash is None:
                raise InvalidInput("choose a password to accept the invitation")
            user = await users.create(
                tx, tenant_id, app_id, email, display_name, password_hash=password_hash
            )
            await correlation.correlate_user(tx, user)
        elif user.status != "active":
            raise Conflict("this account is deactivated; ask an administrator to reactivate it")
        elif password_hash is not None:
            await users.set_password(tx, user, password_hash)
            await sessions.revoke_user_sessions(tx, user, "password_reset")
            await credentials.revoke_user_api_tokens(tx, user)
        elif user.password_hash is None:
            raise InvalidInput("choose a password to accept the invitation")
        await users.mark_email_verified(tx, user.id, tenant_id, app_id)
        await notify_in(tx, str(tenant_id))
        return user, created

    @staticmethod
    async def identity_in(
        tx: Transaction, tenant_id: UUID, app_id: UUID, user_id: UUID
    ) -> AppUser | None:
        return await users.get(tx, tenant_id, app_id, user_id)

    @staticmethod
    async def add_guest_in(
        tx: Transaction, tenant_id: UUID, app_id: UUID, email: str, display_name: str | None
    ) -> AppUser:
        """A host tenant's identity for a guest, in the caller's transaction: no password (the
        guest enters by a token exchange from their home identity), its address proven by the
        accepted invitation. An existing identity with that address is a conflict."""
        if await users.get_by_email(tx, tenant_id, app_id, email) is not None:
            raise Conflict("you already have an identity in that tenant for this app")
        user = await users.create(tx, tenant_id, app_id, email, display_name, email_verified=True)
        await users.mark_email_verified(tx, user.id, tenant_id, app_id)
        return user

    @staticmethod
    async def set_active_in(
        tx: Transaction,
        tenant_id: UUID,
        app_id: UUID,
        user_id: UUID,
        *,
        active: bool,
        by: Actor,
        reason: str | None = None,
    ) -> AppUser:
        """Deactivate a user (recording who and why) or reactivate one. Deactivation ends every
        session and revokes every API token in the same transaction, so they stop at once;
        reactivation lets the user sign in again, it does not bring the old ones back."""
        user = await users.set_status(
            tx, tenant_id, app_id, user_id, active=active, by=str(by), reason=reason
        )
        if user is None:
            if await users.get(tx, tenant_id, app_id, user_id) is None:
                raise NotFound("no such user")
            raise Conflict("the user is already " + ("active" if active else "deactivated"))
        if not active:
            await sessions.revoke_user_sessions(tx, user, "deactivated")
            await credentials.revoke_user_api_tokens(tx, user)
        await notify_in(tx, str(tenant_id))
        return user
