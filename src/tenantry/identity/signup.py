"""Self-service sign-up and email verification."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity import outbox, passwords
from tenantry.identity.principal import ADMIN_APP
from tenantry.identity.repository import correlation, credentials, users
from tenantry.identity.tenancy import serving_tenant_id
from tenantry.identity.tokens import TokenKind, parse_token
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import Conflict, InvalidInput, NotFound
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from tenantry.apps.models import App
    from tenantry.identity.tenancy import TenantGate
    from tenantry.kit.db import Database

VERIFY_EMAIL_TTL = 24 * 3600


class SignUp:
    def __init__(self, db: Database, tenants: TenantGate) -> None:
        self._db = db
        self._tenants = tenants

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
        tenant_id = await serving_tenant_id(self._tenants, app.id, tenant_slug)
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
                    # Linked to the same person's identities in the tenant's other apps, in this
                    # transaction: the identity and its correlation commit together.
                    await correlation.correlate_user(tx, user)
                    await outbox.send_code(tx, user, "verify_email", VERIFY_EMAIL_TTL)
                else:
                    await outbox.mail_existing_owner(tx, user)
        except Conflict:
            # A concurrent sign-up with the same email won the race: the account exists now.
            async with self._db.tenant_transaction(context) as tx:
                existing = await users.get_by_email(tx, tenant_id, app.id, email)
                if existing is not None:
                    await outbox.mail_existing_owner(tx, existing)

    async def verify_email(self, app: App, value: str) -> None:
        parsed = parse_token(value, TokenKind.ONE_TIME)
        if parsed is None:
            raise InvalidInput("invalid or expired code")
        async with self._db.tenant_transaction(TenantContext(parsed.tenant_id, app.id)) as tx:
            user_id = await credentials.use_one_time_token(
                tx, parsed.tenant_id, app.id, "verify_email", parsed.hash
            )
            if user_id is None:
                raise InvalidInput("invalid or expired code")
            await users.mark_email_verified(tx, user_id, parsed.tenant_id, app.id)
            await notify_in(tx, str(parsed.tenant_id))  # the cached tenant context shows it
