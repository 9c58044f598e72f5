"""Roles, template overrides, assignments and delegated administration, without escalation.

Every change runs in the caller's own tenant context (row-level security keeps it in the
tenant) and is decided against what the caller holds *in that transaction*, never a cached copy:

- nobody hands out a privilege they do not hold where the grant reaches (tenant-wide, or within
  the department subtree the grant is limited to), nor for apps their own grant does not cover;
- someone who holds a privilege only within a subtree acts only on that subtree: its
  departments, the users who belong to it, and grants limited to it;
- roles, their privileges and template overrides reach the whole tenant, so changing them needs
  `roles.manage` tenant-wide, and every privilege added must be held tenant-wide.

The database repeats the first rule in a trigger (`tenantry.access_grant_guard`), so SQL in a
user's context cannot grant what that user does not hold.

An administrator (a user of the admin app) who was never assigned any role holds the tenant's
owner role; assignments are ended, never deleted, so nobody regains that by losing a grant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access import repository
from tenantry.access.audit import record
from tenantry.access.models import OWNER, Holdings, PlatformAuthority, Subject, SubjectKind
from tenantry.access.repository import assignments, groups, roles, tree
from tenantry.access.repository import catalog as catalog_sql
from tenantry.kit.errors import Conflict, InsufficientPrivilege, InvalidInput, NotFound
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from uuid import UUID

    from tenantry.access.models import Assignment, Role
    from tenantry.identity.principal import Principal
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction

ASSIGN = "roles.assign"
MANAGE_ROLES = "roles.manage"
DELEGATE = "delegation.grant"


async def holdings_in(
    tx: Transaction, principal: Principal, app_id: UUID | None = None
) -> Holdings:
    """What the principal holds now, for `app_id` (None: what holds in every app); a platform
    administrator on a tenant holds what its owner does: every privilege, tenant-wide."""
    if isinstance(principal, PlatformAuthority):
        return Holdings.of((p.key, None) for p in await catalog_sql.list_privileges(tx))
    rows = await repository.effective(tx, principal.tenant_id, app_id, principal.app_user_id)
    return Holdings.of(rows)


class AccessService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def my_privileges(self, principal: Principal) -> Holdings:
        return Holdings.of(await repository.read_effective(self._db, principal.context))

    # Roles and overrides ---------------------------------------------------------------------

    async def roles(self, principal: Principal) -> list[Role]:
        async with self._db.tenant_transaction(principal.context) as tx:
            return await roles.list_roles(tx, principal.tenant_id)

    async def create_role(
        self,
        principal: Principal,
        key: str,
        name: str,
        *,
        template: str | None,
        privileges: Sequence[str],
        by: Actor,
    ) -> Role:
        async with self._db.tenant_transaction(principal.context) as tx:
            held = await self._require_tenant_wide(tx, principal, MANAGE_ROLES)
            if template is not None and not await roles.template_exists(tx, template):
                raise InvalidInput(f"no role template {template!r}")
            await self._require_known(tx, privileges)
            # A role from a template hands out the template's privileges too.
            granted = set(privileges)
            if template is not None:
                granted |= set((await catalog_sql.templates(tx)).get(template, []))
            _require_all(held.tenant_wide, granted)
            if await roles.get_role(tx, principal.tenant_id, key) is not None:
                raise Conflict(f"role {key!r} already exists")
            role_id = await roles.create_role(tx, principal.tenant_id, key, name, template)
            for privilege in privileges:
                await roles.add_role_privilege(tx, principal.tenant_id, role_id, privilege)
            await record(tx, principal, "role.created", "role", role_id, by, {"key": key})
            await notify_in(tx, str(principal.tenant_id))
            role = await roles.get_role(tx, principal.tenant_id, key)
            assert role is not None
            return role

    async def change_role_privilege(
        self, principal: Principal, role_key: str, privilege: str, *, grant: bool, by: Actor
    ) -> Role:
        async with self._db.tenant_transaction(principal.context) as tx:
            held = await self._require_tenant_wide(tx, principal, MANAGE_ROLES)
            role = await self._role(tx, principal, role_key)
            if grant:
                await self._require_known(tx, [privilege])
                _require_all(held.tenant_wide, {privilege})
                await roles.add_role_privilege(tx, principal.tenant_id, role.id, privilege)
            elif not await roles.remove_role_privilege(tx, principal.tenant_id, role.id, privilege):
                raise NotFound(f"role {role_key!r} has no own privilege {privilege!r}")
            action = "role.privilege_granted" if grant else "role.privilege_revoked"
            await record(tx, principal, action, "role", role.id, by, {"privilege": privilege})
            await notify_in(tx, str(principal.tenant_id))
            return await self._role(tx, principal, role_key)

    async def delete_role(self, principal: Principal, role_key: str, *, by: Actor) -> None:
        async with self._db.tenant_transaction(principal.context) as tx:
            await self._require_tenant_wide(tx, principal, MANAGE_ROLES)
            role = await self._role(tx, principal, role_key)
            if await roles.role_ever_assigned(tx, principal.tenant_id, role.id):
                raise Conflict(f"role {role_key!r} has been assigned: it stays for the record")
            await roles.delete_role(tx, principal.tenant_id, role.id)
            await record(tx, principal, "role.deleted", "role", role.id, by, {"key": role_key})

    async def overrides(self, principal: Principal) -> list[dict[str, object]]:
        async with self._db.tenant_transaction(principal.context) as tx:
            return await roles.list_overrides(tx, principal.tenant_id)

    async def override_template(
        self, principal: Principal, template: str, privilege: str, effect: str | None, *, by: Actor
    ) -> None:
        """Grant or revoke one privilege of a template in this tenant (`effect` None: remove
        the override). The owner template always holds everything."""
        if template == OWNER:
            raise InvalidInput("the owner role holds every privilege and cannot be overridden")
        async with self._db.tenant_transaction(principal.context) as tx:
            held = await self._require_tenant_wide(tx, principal, MANAGE_ROLES)
            if not await roles.template_exists(tx, template):
                raise NotFound(f"no role template {template!r}")
            await self._require_known(tx, [privilege])
            if effect is None:
                if not await roles.remove_override(tx, principal.tenant_id, template, privilege):
                    raise NotFound("no such override")
            else:
                if effect == "grant":
                    _require_all(held.tenant_wide, {privilege})
                await roles.set_override(tx, principal.tenant_id, template, privilege, effect)
            meta = {"template": template, "privilege": privilege, "effect": effect}
            await record(
                tx, principal, "role.template_overridden", "role_template", template, by, meta
            )
            await notify_in(tx, str(principal.tenant_id))

    # Assignments -----------------------------------------------------------------------------

    async def assignments(self, principal: Principal) -> list[Assignment]:
        async with self._db.tenant_transaction(principal.context) as tx:
            held = await holdings_in(tx, principal, principal.app_id)
            found = await assignments.list_assignments(tx, principal.tenant_id)
            if ASSIGN in held.tenant_wide:
                return found
            visible = []
            for assignment in found:
                paths = await self._subject_paths(tx, principal, assignment.subject)
                if held.covers(ASSIGN, paths):
                    visible.append(assignment)
            return visible

    async def assign(
        self,
        principal: Principal,
        role_key: str,
        subject: Subject,
        *,
        only_app_id: UUID | None = None,
        scope_department_id: UUID | None = None,
        expires_at: datetime | None = None,
        needs: str = ASSIGN,
        by: Actor,
    ) -> Assignment:
        async with self._db.tenant_transaction(principal.context) as tx:
            if needs == DELEGATE:
                await ensure_template_role(tx, principal, role_key)
            role = await self._role(tx, principal, role_key)
            acting = await holdings_in(tx, principal, principal.app_id)
            # Who the grant reaches: the subject, and the subtree it is limited to.
            paths = await self._subject_paths(tx, principal, subject)
            _require_covered(acting, ASSIGN, paths)
            if needs != ASSIGN:
                _require_covered(acting, needs, paths)
            scope_paths = None
            if scope_department_id is not None:
                scope = await tree.get_department(tx, principal.tenant_id, scope_department_id)
                if scope is None:
                    raise NotFound("no such department")
                scope_paths = [scope.path]
                _require_covered(acting, ASSIGN, scope_paths)
            elif ASSIGN not in acting.tenant_wide:
                raise InsufficientPrivilege(
                    "you assign roles within your departments only: name one of them as the scope"
                )
            # The privileges handed out must be held where they reach, for the apps they reach.
            granting = await holdings_in(tx, principal, only_app_id)
            missing = sorted(p for p in role.privileges if not granting.covers(p, scope_paths))
            if missing:
                raise InsufficientPrivilege(
                    f"you cannot grant privileges you do not hold there: {', '.join(missing)}"
                )
            assignment_id = await assignments.create_assignment(
                tx,
                principal.tenant_id,
                role.id,
                subject,
                only_app_id=only_app_id,
                scope_department_id=scope_department_id,
                expires_at=expires_at,
                granted_by=str(by),
                granted_by_user=principal.app_user_id,
            )
            meta = {
                "role": role_key,
                "subject": f"{subject.kind}:{subject.id}",
                "scope_department_id": str(scope_department_id) if scope_department_id else None,
                "expires_at": expires_at.isoformat() if expires_at else None,
            }
            await record(tx, principal, "role.assigned", "role_assignment", assignment_id, by, meta)
            await notify_in(tx, str(principal.tenant_id))
            created = await assignments.get_assignment(tx, principal.tenant_id, assignment_id)
            assert created is not None
            return created

    async def revoke(self, principal: Principal, assignment_id: UUID, *, by: Actor) -> None:
        async with self._db.tenant_transaction(principal.context) as tx:
            assignment = await assignments.get_assignment(tx, principal.tenant_id, assignment_id)
            if assignment is None or assignment.revoked_at is not None:
                raise NotFound("no such assignment")
            acting = await holdings_in(tx, principal, principal.app_id)
            paths = await self._subject_paths(tx, principal, assignment.subject)
            if not acting.covers(ASSIGN, paths):
                # Outside the caller's departments: as if it did not exist.
                raise NotFound("no such assignment")
            if assignment.scope_department_id is None and ASSIGN not in acting.tenant_wide:
                raise InsufficientPrivilege(
                    "a tenant-wide grant is revoked by a tenant-wide holder"
                )
            if assignment.scope_department_id is not None:
                scope = await tree.get_department(
                    tx, principal.tenant_id, assignment.scope_department_id
                )
                assert scope is not None
                _require_covered(acting, ASSIGN, [scope.path])
            await assignments.revoke_assignment(tx, principal.tenant_id, assignment_id)
            meta = {"role": assignment.role_key}
            await record(tx, principal, "role.revoked", "role_assignment", assignment_id, by, meta)
            await notify_in(tx, str(principal.tenant_id))

    async def delegate(
        self,
        principal: Principal,
        subject: Subject,
        department_id: UUID,
        *,
        role_key: str = "admin",
        expires_at: datetime | None = None,
        by: Actor,
    ) -> Assignment:
        """Make a user administrator of one department subtree only."""
        if subject.kind is not SubjectKind.USER:
            raise InvalidInput("a delegated administrator is a user")
        return await self.assign(
            principal,
            role_key,
            subject,
            scope_department_id=department_id,
            expires_at=expires_at,
            needs=DELEGATE,
            by=by,
        )

    # Helpers ---------------------------------------------------------------------------------

    async def _role(self, tx: Transaction, principal: Principal, key: str) -> Role:
        role = await roles.get_role(tx, principal.tenant_id, key)
        if role is None:
            raise NotFound(f"no role {key!r}")
        return role

    async def _subject_paths(
        self, tx: Transaction, principal: Principal, subject: Subject
    ) -> list[tuple[UUID, ...]] | None:
        """Where a subject sits in the tree: a user's departments, a department itself; None
        for a group (groups are tenant-wide)."""
        if subject.kind is SubjectKind.USER:
            return await tree.user_paths(tx, principal.tenant_id, subject.id)
        if subject.kind is SubjectKind.DEPARTMENT:
            department = await tree.get_department(tx, principal.tenant_id, subject.id)
            if department is None:
                raise NotFound("no such department")
            return [department.path]
        if await groups.get_group(tx, principal.tenant_id, subject.id) is None:
            raise NotFound("no such group")
        return None

    async def _require_tenant_wide(
        self, tx: Transaction, principal: Principal, privilege: str
    ) -> Holdings:
        held = await holdings_in(tx, principal, principal.app_id)
        if privilege not in held.tenant_wide:
            raise InsufficientPrivilege(f"this needs {privilege} for the whole tenant")
        return held

    @staticmethod
    async def _require_known(tx: Transaction, privileges: Sequence[str]) -> None:
        unknown = set(privileges) - await catalog_sql.existing_privileges(tx, privileges)
        if unknown:
            raise InvalidInput(f"unknown privilege(s): {', '.join(sorted(unknown))}")


async def ensure_template_role(tx: Transaction, principal: Principal, key: str) -> None:
    """A template's tenant role, created on first use (it grants nothing by existing)."""
    if await roles.get_role(tx, principal.tenant_id, key) is not None:
        return
    if not await roles.template_exists(tx, key):
        raise NotFound(f"no role {key!r}")
    await roles.create_role(tx, principal.tenant_id, key, key.title(), key)


def _require_all(held: frozenset[str], wanted: set[str]) -> None:
    missing = sorted(wanted - held)
    if missing:
        raise InsufficientPrivilege(
            f"you cannot grant privileges you do not hold: {', '.join(missing)}"
        )


def _require_covered(
    held: Holdings, privilege: str, paths: Sequence[Sequence[UUID]] | None
) -> None:
    if not held.anywhere(privilege):
        raise InsufficientPrivilege(f"this needs {privilege}")
    if not held.covers(privilege, paths):
        # The subject lies outside the caller's departments: as if it did not exist.
        raise NotFound("not found")
