"""Groups: named sets of a tenant's users (of any of its apps) that roles are assigned to.

A role assigned to a group reaches every member while they belong to it
(`tenantry.effective_privileges` follows memberships); removing a member ends it at once, and the
tenant context forgets cached privileges. Groups reach the whole tenant, so managing them needs
`groups.manage` tenant-wide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.audit import record
from tenantry.access.repository import groups
from tenantry.access.service import holdings_in
from tenantry.kit.errors import Conflict, InsufficientPrivilege, NotFound
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.access.models import Group
    from tenantry.identity.principal import Principal
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction

MANAGE = "groups.manage"


class GroupService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def groups(self, principal: Principal) -> list[Group]:
        async with self._db.tenant_transaction(principal.context) as tx:
            await _require(tx, principal)
            return await groups.list_groups(tx, principal.tenant_id)

    async def create(
        self, principal: Principal, name: str, description: str = "", *, by: Actor
    ) -> Group:
        async with self._db.tenant_transaction(principal.context) as tx:
            await _require(tx, principal)
            group = await groups.create_group(tx, principal.tenant_id, name, description)
            await record(tx, principal, "group.created", "group", group.id, by, {"name": name})
            return group

    async def update(
        self, principal: Principal, group_id: UUID, name: str, description: str, *, by: Actor
    ) -> Group:
        async with self._db.tenant_transaction(principal.context) as tx:
            await _require(tx, principal)
            group = await groups.update_group(tx, principal.tenant_id, group_id, name, description)
            if group is None:
                raise NotFound("no such group")
            await record(tx, principal, "group.changed", "group", group_id, by, {"name": name})
            return group

    async def delete(self, principal: Principal, group_id: UUID, *, by: Actor) -> None:
        async with self._db.tenant_transaction(principal.context) as tx:
            await _require(tx, principal)
            await _group(tx, principal, group_id)
            if await groups.group_assigned(tx, principal.tenant_id, group_id):
                raise Conflict("the group holds roles: revoke them first")
            await groups.delete_group(tx, principal.tenant_id, group_id)
            await record(tx, principal, "group.deleted", "group", group_id, by)
            await notify_in(tx, str(principal.tenant_id))

    async def members(self, principal: Principal, group_id: UUID) -> list[dict[str, object]]:
        async with self._db.tenant_transaction(principal.context) as tx:
            await _require(tx, principal)
            await _group(tx, principal, group_id)
            return await groups.list_members(tx, principal.tenant_id, group_id)

    async def add_member(
        self, principal: Principal, group_id: UUID, app_id: UUID, user_id: UUID, *, by: Actor
    ) -> None:
        async with self._db.tenant_transaction(principal.context) as tx:
            await _require(tx, principal)
            await _group(tx, principal, group_id)
            await groups.add_member(tx, principal.tenant_id, group_id, app_id, user_id)
            meta = {"user_id": str(user_id), "app_id": str(app_id)}
            await record(tx, principal, "group.member_added", "group", group_id, by, meta)
            await notify_in(tx, str(principal.tenant_id))

    async def remove_member(
        self, principal: Principal, group_id: UUID, user_id: UUID, *, by: Actor
    ) -> None:
        async with self._db.tenant_transaction(principal.context) as tx:
            await _require(tx, principal)
            await _group(tx, principal, group_id)
            if not await groups.remove_member(tx, principal.tenant_id, group_id, user_id):
                raise NotFound("no such member")
            meta = {"user_id": str(user_id)}
            await record(tx, principal, "group.member_removed", "group", group_id, by, meta)
            await notify_in(tx, str(principal.tenant_id))


async def _require(tx: Transaction, principal: Principal) -> None:
    held = await holdings_in(tx, principal, principal.app_id)
    if MANAGE not in held.tenant_wide:
        raise InsufficientPrivilege(f"this needs {MANAGE} for the whole tenant")


async def _group(tx: Transaction, principal: Principal, group_id: UUID) -> Group:
    group = await groups.get_group(tx, principal.tenant_id, group_id)
    if group is None:  # another tenant's looks the same
        raise NotFound("no such group")
    return group
