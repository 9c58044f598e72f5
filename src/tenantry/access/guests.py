"""Guests: a member of a home tenant joins a group of a host tenant as a guest.

The guest gets an identity of their own in the host (an `app_users` row of the host, marked in
`guests`), linked to their home identity on the platform path only (`guest_links`). Admission
needs both tenants to agree for that app: the host's policy `guests_in`, the home's
`guests_out`. Tokens stay per identity: the guest signs in to the host as the host identity,
and every token names exactly one tenant; neither context ever reads the other tenant's rows.

What a guest holds in the host is capped by the host policy's `guest_max_role`, inside
`tenantry.effective_privileges`: the host switching `guests_in` off (or dropping the app) takes
everything away at once, for tokens already issued too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.audit import record
from tenantry.access.repository import groups, guests, policies
from tenantry.access.service import holdings_in
from tenantry.kit.errors import InsufficientPrivilege, NotFound
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.identity.directory import UserDirectory
    from tenantry.identity.principal import Principal
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction

MANAGE = "groups.manage"


class GuestService:
    def __init__(self, db: Database, users: UserDirectory) -> None:
        self._db = db
        self._users = users

    async def admit(
        self, host: Principal, group_id: UUID, home: Principal, email: str, *, by: Actor
    ) -> UUID:
        """`home` is the guest, proven by a valid access token of their home tenant for the
        same app; `host` an administrator of the host tenant holding groups.manage. Answers the
        guest's new identity in the host."""
        app_id = home.app_id
        async with self._db.platform_transaction() as tx:
            await self._check(tx, host, home, group_id)
        user = await self._users.add(host.tenant_id, app_id, email, password_hash=None)
        async with self._db.platform_transaction() as tx:
            # Decided again where the link is written: a policy turned off meanwhile wins.
            await self._check(tx, host, home, group_id)
            await guests.admit(
                tx, host.tenant_id, app_id, user.id, home.tenant_id, home.app_user_id
            )
            await groups.add_member(tx, host.tenant_id, group_id, app_id, user.id)
            meta = {"group_id": str(group_id), "app_id": str(app_id)}
            await record(tx, host, "guest.admitted", "app_user", user.id, by, meta)
            await notify_in(tx, str(host.tenant_id))
        return user.id

    async def _check(
        self, tx: Transaction, host: Principal, home: Principal, group_id: UUID
    ) -> None:
        if home.tenant_id == host.tenant_id:
            raise NotFound("a guest comes from another tenant")
        held = await holdings_in(tx, host, host.app_id)
        if MANAGE not in held.tenant_wide:
            raise InsufficientPrivilege(f"this needs {MANAGE} for the whole tenant")
        if await groups.get_group(tx, host.tenant_id, group_id) is None:
            raise NotFound("no such group")
        if not (await policies.get_policy(tx, host.tenant_id)).admits(home.app_id):
            raise InsufficientPrivilege("this tenant does not admit guests in this app")
        if not (await policies.get_policy(tx, home.tenant_id)).lets_out(home.app_id):
            raise InsufficientPrivilege("the guest's tenant does not let its users be guests")
