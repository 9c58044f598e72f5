"""The roles an invitation carries: checked when the invitation is made, assigned when it is
accepted. A key is one of the tenant's roles or a role template (owner, admin, member, …),
whose tenant role is created on first use.

An administrator may only invite with roles whose every privilege they hold tenant-wide in every
app (the rule for assigning them directly), so an invitation never escalates. The roles are
assigned to the new identity (an identity of the invited app only) in the transaction that
accepts the invitation; a role deleted in between is skipped, and the audit entry says which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.models import Subject, SubjectKind
from tenantry.access.repository import assignments, roles
from tenantry.access.service import ASSIGN, ensure_template_role, holdings_in
from tenantry.audit_log.service import AuditLog
from tenantry.kit.errors import InsufficientPrivilege, InvalidInput, NotFound
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.identity.principal import Principal
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction


class InvitedRoles:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def check_grantable(self, principal: Principal, role_keys: list[str]) -> None:
        """Refuse role keys that do not exist, or that the inviter could not assign."""
        if not role_keys:
            return
        async with self._db.tenant_transaction(principal.context) as tx:
            if ASSIGN not in (await holdings_in(tx, principal, principal.app_id)).tenant_wide:
                raise InsufficientPrivilege(f"inviting with roles needs {ASSIGN} tenant-wide")
            # As for a direct assignment reaching every app: the new identity is of one app.
            granting = await holdings_in(tx, principal, None)
            for key in role_keys:
                try:
                    await ensure_template_role(tx, principal, key)
                except NotFound as exc:
                    raise InvalidInput(exc.message) from exc
                role = await roles.get_role(tx, principal.tenant_id, key)
                assert role is not None  # ensured just above
                missing = sorted(p for p in role.privileges if p not in granting.tenant_wide)
                if missing:
                    raise InsufficientPrivilege(
                        f"you cannot grant privileges you do not hold: {', '.join(missing)}"
                    )

    async def assign_invited_in(
        self,
        tx: Transaction,
        *,
        tenant_id: UUID,
        app_id: UUID,
        app_user_id: UUID,
        role_keys: list[str],
        by: Actor,
    ) -> None:
        subject = Subject(SubjectKind.USER, app_user_id, app_id)
        assigned, gone = [], []
        for key in role_keys:
            role = await roles.get_role(tx, tenant_id, key)
            if role is None:
                gone.append(key)
                continue
            await assignments.create_assignment(
                tx, tenant_id, role.id, subject, only_app_id=None, scope_department_id=None,
                expires_at=None, granted_by=str(by), granted_by_user=None,
            )  # fmt: skip
            assigned.append(key)
        await AuditLog.record_in(
            tx, tenant_id=tenant_id, action="role.assigned_by_invitation",
            object_type="app_user", object_id=app_user_id, by=by, app_id=app_id,
            metadata={"roles": assigned, "skipped": gone},
        )  # fmt: skip
        await notify_in(tx, str(tenant_id))
