"""Role assignments to users, departments and groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.models import (
    Assignment,
    Subject,
    SubjectKind,
)
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction

from tenantry.access.repository import _write

# Assignments -------------------------------------------------------------------------------

_ASSIGNMENT = """SELECT a.id, r.key AS role_key, a.subject_kind, a.subject_id, a.subject_app_id,
       a.only_app_id, a.scope_department_id, a.expires_at, a.revoked_at, a.granted_by
  FROM tenantry.role_assignments a
  JOIN tenantry.roles r ON r.tenant_id = a.tenant_id AND r.id = a.role_id"""


def _assignment(row: DictRow) -> Assignment:
    subject = Subject(SubjectKind(row["subject_kind"]), row["subject_id"], row["subject_app_id"])
    return Assignment(
        row["id"],
        row["role_key"],
        subject,
        row["only_app_id"],
        row["scope_department_id"],
        row["expires_at"],
        row["revoked_at"],
        row["granted_by"],
    )


async def create_assignment(
    tx: Transaction,
    tenant_id: UUID,
    role_id: UUID,
    subject: Subject,
    *,
    only_app_id: UUID | None,
    scope_department_id: UUID | None,
    expires_at: datetime | None,
    granted_by: str,
    granted_by_user: UUID | None,
) -> UUID:
    assignment_id = uuid7()
    await _write(
        tx,
        """INSERT INTO tenantry.role_assignments
                  (tenant_id, id, role_id, subject_kind, subject_id, subject_app_id, only_app_id,
                   scope_department_id, expires_at, granted_by, granted_by_user)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        [
            tenant_id,
            assignment_id,
            role_id,
            subject.kind.value,
            subject.id,
            subject.app_id,
            only_app_id,
            scope_department_id,
            expires_at,
            granted_by,
            granted_by_user,
        ],
    )
    return assignment_id


async def get_assignment(
    tx: Transaction, tenant_id: UUID, assignment_id: UUID
) -> Assignment | None:
    row = await tx.fetch_one(
        f"{_ASSIGNMENT} WHERE a.tenant_id = %s AND a.id = %s", [tenant_id, assignment_id]
    )
    return _assignment(row) if row else None


async def list_assignments(tx: Transaction, tenant_id: UUID) -> list[Assignment]:
    rows = await tx.fetch_all(
        f"{_ASSIGNMENT} WHERE a.tenant_id = %s AND a.revoked_at IS NULL ORDER BY a.id",
        [tenant_id],
    )
    return [_assignment(r) for r in rows]


async def revoke_assignment(tx: Transaction, tenant_id: UUID, assignment_id: UUID) -> None:
    await tx.execute(
        """UPDATE tenantry.role_assignments SET revoked_at = now()
            WHERE tenant_id = %s AND id = %s AND revoked_at IS NULL""",
        [tenant_id, assignment_id],
    )
