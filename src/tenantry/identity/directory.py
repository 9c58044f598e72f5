"""Identities as the rest of the platform creates them: a provisioned tenant's first
administrator, platform administrators, demo data and test fixtures.

Self-service sign-up and sign-in live in `IdentityService`; this is the door other features and
the operator's tools use, so none of them touches the identity tables itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.repository import correlation, credentials, mail, users
from tenantry.identity.tokens import TokenKind, new_token
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import Conflict

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.identity.models import AppUser
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
            await correlation.correlate_user(tx, user.id)
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
