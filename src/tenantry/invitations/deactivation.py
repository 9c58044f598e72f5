"""Tenant administrators deactivate and reactivate users of the tenant's apps.

A deactivated user cannot sign in, refresh or complete a second factor; their sessions are
revoked and their API tokens too, in the transaction that deactivates them, so both stop at
once (and an API token is also refused while its owner is inactive). Reactivation lets them
sign in again; it does not bring old sessions or tokens back. The guest identities a user holds
in other tenants follow their home identity (`access.guests`). Who deactivated and why is kept
on the user and in the tenant's audit log, in the same transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.guests import POLICY
from tenantry.invitations.service import require_admin
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import Conflict

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.access.guests import GuestService
    from tenantry.apps.service import AppDirectory
    from tenantry.audit_log.service import AuditLog
    from tenantry.identity.directory import UserDirectory
    from tenantry.identity.models import AppUser
    from tenantry.identity.principal import Principal
    from tenantry.identity.tenancy import TenantGate
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database


class UserAdministration:
    def __init__(
        self,
        db: Database,
        apps: AppDirectory,
        tenants: TenantGate,
        users: UserDirectory,
        audit: AuditLog,
        guests: GuestService,
    ) -> None:
        self._db = db
        self._guests = guests
        self._apps = apps
        self._tenants = tenants
        self._users = users
        self._audit = audit

    async def deactivate(
        self, principal: Principal, app_slug: str, user_id: UUID, *, reason: str, by: Actor
    ) -> AppUser:
        if user_id == principal.app_user_id:
            raise Conflict("you cannot deactivate yourself")
        return await self._set(principal, app_slug, user_id, active=False, reason=reason, by=by)

    async def reactivate(
        self, principal: Principal, app_slug: str, user_id: UUID, *, by: Actor
    ) -> AppUser:
        return await self._set(principal, app_slug, user_id, active=True, reason=None, by=by)

    async def _set(
        self,
        principal: Principal,
        app_slug: str,
        user_id: UUID,
        *,
        active: bool,
        reason: str | None,
        by: Actor,
    ) -> AppUser:
        require_admin(principal)
        app = self._apps.by_slug(app_slug)
        await self._tenants.require_serving(principal.tenant_id, app.id)
        tenant_id = principal.tenant_id
        async with self._db.tenant_transaction(TenantContext(tenant_id, app.id)) as tx:
            seen = await self._users.identity_in(tx, tenant_id, app.id, user_id)
            if active and seen is not None and seen.deactivated_by == str(POLICY):
                raise Conflict(
                    "this guest comes back by itself once both tenants allow the visit again"
                )
            user = await self._users.set_active_in(
                tx, tenant_id, app.id, user_id, active=active, by=by, reason=reason
            )
            await self._audit.record_in(
                tx,
                tenant_id=tenant_id,
                action="user.reactivate" if active else "user.deactivate",
                object_type="app_user",
                object_id=user.id,
                by=by,
                app_id=app.id,
                metadata={"email": user.email, "reason": reason} if reason else {},
            )
        # Guests this identity is, elsewhere, follow it (the platform path holds their links).
        await self._guests.follow(tenant_id)
        return user
