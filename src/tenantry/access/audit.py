"""Every access change is recorded in the tenant's audit log, in the transaction that makes it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenantry.audit_log.service import AuditLog

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tenantry.identity.principal import Principal
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Transaction


async def record(
    tx: Transaction,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: object,
    by: Actor,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    await AuditLog.record_in(
        tx,
        tenant_id=principal.tenant_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        by=by,
        app_id=principal.app_id,
        metadata=metadata,
    )
