"""Every statement of access control, one module per aggregate. Effective privileges come from
`tenantry.effective_privileges()`, the one definition the tenant context reads too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg

from tenantry.kit.errors import InsufficientPrivilege, InvalidInput, NotFound

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from tenantry.kit.context import TenantContext
    from tenantry.kit.db import Cursor, Database, Query, Transaction

_EFFECTIVE = (
    "SELECT privilege_key, scope_department_id FROM tenantry.effective_privileges(%s, %s, %s)"
)
_ZERO_APP = "00000000-0000-0000-0000-000000000000"


async def _write(tx: Transaction, query: Query, params: Sequence[Any]) -> Cursor:
    """A write whose refusals by the database are the caller's mistakes, never a 500."""
    try:
        return await tx.execute(query, params)
    except psycopg.errors.ForeignKeyViolation as exc:
        raise NotFound("no such user, department or app in this tenant") from exc
    except psycopg.errors.CheckViolation as exc:
        raise InvalidInput(exc.diag.message_primary or "refused by a check") from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise InsufficientPrivilege(exc.diag.message_primary or "not yours to grant") from exc


async def effective(
    tx: Transaction, tenant_id: UUID, app_id: UUID | None, user_id: UUID
) -> list[tuple[str, UUID | None]]:
    """What `user_id` holds in `app_id`; with no app, only what holds in every app."""
    rows = await tx.fetch_all(_EFFECTIVE, [tenant_id, app_id or _ZERO_APP, user_id])
    return [(r["privilege_key"], r["scope_department_id"]) for r in rows]


async def read_effective(db: Database, context: TenantContext) -> list[tuple[str, UUID | None]]:
    """The context's own user, in one message."""
    rows = await db.read(
        context, _EFFECTIVE, [context.tenant_id, context.app_id, context.app_user_id]
    )
    return [(r["privilege_key"], r["scope_department_id"]) for r in rows]
