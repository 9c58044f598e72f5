"""Password reset by a single-use code sent to the account's address."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity import outbox, passwords
from tenantry.identity.repository import credentials, sessions, users
from tenantry.identity.tokens import TokenKind, parse_token
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import InvalidInput

if TYPE_CHECKING:
    from tenantry.apps.models import App
    from tenantry.identity.tenancy import TenantGate
    from tenantry.kit.db import Database

RESET_PASSWORD_TTL = 3600


class Recovery:
    def __init__(self, db: Database, tenants: TenantGate) -> None:
        self._db = db
        self._tenants = tenants

    async def request_password_reset(self, app: App, tenant_slug: str, email: str) -> None:
        """Always succeeds from the caller's view, so it cannot reveal which accounts exist."""
        tenant = await self._tenants.by_slug(tenant_slug)
        if tenant is None or app.id not in tenant.app_ids or tenant.status != "active":
            return
        async with self._db.tenant_transaction(TenantContext(tenant.id, app.id)) as tx:
            user = await users.get_by_email(tx, tenant.id, app.id, email)
            if user is not None and user.status == "active":
                await outbox.send_code(tx, user, "reset_password", RESET_PASSWORD_TTL)

    async def reset_password(self, app: App, value: str, password: str) -> None:
        parsed = parse_token(value, TokenKind.ONE_TIME)
        if parsed is None:
            raise InvalidInput("invalid or expired code")
        context = TenantContext(parsed.tenant_id, app.id)
        async with self._db.tenant_transaction(context) as tx:
            user_id = await credentials.use_one_time_token(
                tx, parsed.tenant_id, app.id, "reset_password", parsed.hash
            )
            user = await users.get(tx, parsed.tenant_id, app.id, user_id) if user_id else None
            if user is None:
                raise InvalidInput("invalid or expired code")
            passwords.check_policy(password, [user.email, user.display_name or "", app.slug])
            await users.set_password(tx, user, await passwords.hash_password(password))
            # The code reached the address and came back: the address is proven.
            await users.mark_email_verified(tx, user.id, user.tenant_id, app.id)
            # "Reset my password" locks everyone out: every session and every API token.
            await sessions.revoke_user_sessions(tx, user, "password_reset")
            await credentials.revoke_user_api_tokens(tx, user)
