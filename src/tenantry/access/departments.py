"""Departments: a tree per tenant, and who belongs where.

`departments.manage` held tenant-wide manages the whole tree; held within a subtree (a
delegated administrator) it manages that subtree only: departments below its root, and the
users who already belong to it. The database refuses cycles and keeps every path (a trigger).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.audit import record
from tenantry.access.repository import tree
from tenantry.access.service import holdings_in
from tenantry.kit.errors import Conflict, InsufficientPrivilege, NotFound
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.access.models import Department, Holdings
    from tenantry.identity.principal import Principal
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction

MANAGE = "departments.manage"


class DepartmentService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def tree(self, principal: Principal) -> list[Department]:
        async with self._db.tenant_transaction(principal.context) as tx:
            held = await holdings_in(tx, principal, principal.app_id)
            found = await tree.list_departments(tx, principal.tenant_id)
            return [d for d in found if held.covers(MANAGE, [d.path])]

    async def create(
        self, principal: Principal, name: str, parent_id: UUID | None, *, by: Actor
    ) -> Department:
        async with self._db.tenant_transaction(principal.context) as tx:
            held = await _holdings(tx, principal)
            await self._require_parent(tx, principal, held, parent_id)
            department = await tree.create_department(tx, principal.tenant_id, name, parent_id)
            meta = {"name": name, "parent_id": str(parent_id) if parent_id else None}
            await record(tx, principal, "department.created", "department", department.id, by, meta)
            return department

    async def update(
        self,
        principal: Principal,
        department_id: UUID,
        *,
        name: str,
        parent_id: UUID | None,
        by: Actor,
    ) -> Department:
        """Rename and/or move a department with its subtree (never under itself)."""
        async with self._db.tenant_transaction(principal.context) as tx:
            held = await _holdings(tx, principal)
            department = await self._department(tx, principal, held, department_id)
            if parent_id != department.parent_id:
                await self._require_parent(tx, principal, held, parent_id)
            updated = await tree.update_department(
                tx, principal.tenant_id, department_id, name, parent_id
            )
            meta = {"name": name, "parent_id": str(parent_id) if parent_id else None}
            await record(tx, principal, "department.changed", "department", department_id, by, meta)
            await notify_in(tx, str(principal.tenant_id))
            return updated

    async def delete(self, principal: Principal, department_id: UUID, *, by: Actor) -> None:
        async with self._db.tenant_transaction(principal.context) as tx:
            held = await _holdings(tx, principal)
            await self._department(tx, principal, held, department_id)
            if await tree.department_in_use(tx, principal.tenant_id, department_id):
                raise Conflict("the department has sub-departments or role assignments")
            await tree.delete_department(tx, principal.tenant_id, department_id)
            await record(tx, principal, "department.deleted", "department", department_id, by)
            await notify_in(tx, str(principal.tenant_id))

    async def members(self, principal: Principal, department_id: UUID) -> list[dict[str, object]]:
        async with self._db.tenant_transaction(principal.context) as tx:
            held = await _holdings(tx, principal)
            await self._department(tx, principal, held, department_id)
            return await tree.list_members(tx, principal.tenant_id, department_id)

    async def add_member(
        self,
        principal: Principal,
        department_id: UUID,
        app_id: UUID,
        user_id: UUID,
        *,
        by: Actor,
    ) -> None:
        async with self._db.tenant_transaction(principal.context) as tx:
            held = await _holdings(tx, principal)
            await self._department(tx, principal, held, department_id)
            if MANAGE not in held.tenant_wide:
                # A subtree's administrator moves its own people around, never pulls others in.
                paths = await tree.user_paths(tx, principal.tenant_id, user_id)
                if not held.covers(MANAGE, paths) or not paths:
                    raise NotFound("no such user in your departments")
            await tree.add_member(tx, principal.tenant_id, department_id, app_id, user_id)
            meta = {"user_id": str(user_id)}
            await record(
                tx, principal, "department.member_added", "department", department_id, by, meta
            )
            await notify_in(tx, str(principal.tenant_id))

    async def remove_member(
        self, principal: Principal, department_id: UUID, user_id: UUID, *, by: Actor
    ) -> None:
        async with self._db.tenant_transaction(principal.context) as tx:
            held = await _holdings(tx, principal)
            await self._department(tx, principal, held, department_id)
            if not await tree.remove_member(tx, principal.tenant_id, department_id, user_id):
                raise NotFound("no such member")
            meta = {"user_id": str(user_id)}
            await record(
                tx, principal, "department.member_removed", "department", department_id, by, meta
            )
            await notify_in(tx, str(principal.tenant_id))

    async def _department(
        self, tx: Transaction, principal: Principal, held: Holdings, department_id: UUID
    ) -> Department:
        department = await tree.get_department(tx, principal.tenant_id, department_id)
        # Another tenant's, or outside the caller's subtree: the same answer.
        if department is None or not held.covers(MANAGE, [department.path]):
            raise NotFound("no such department")
        return department

    async def _require_parent(
        self, tx: Transaction, principal: Principal, held: Holdings, parent_id: UUID | None
    ) -> None:
        if parent_id is None:
            if MANAGE not in held.tenant_wide:
                raise InsufficientPrivilege("only a tenant-wide administrator adds top departments")
            return
        await self._department(tx, principal, held, parent_id)


async def _holdings(tx: Transaction, principal: Principal) -> Holdings:
    held = await holdings_in(tx, principal, principal.app_id)
    if not held.anywhere(MANAGE):
        raise InsufficientPrivilege(f"this needs {MANAGE}")
    return held
