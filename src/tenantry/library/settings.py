"""Tenant settings, read where a module's code runs: inside a transaction.

    budget = await tenant_setting(scoped.tx, scoped.principal.tenant_id, "ai_monthly_budget_usd")

Settings are typed and validated when an operator writes them (`tenantry settings set`, the
admin UI, the platform API); a read gets the tenant's own value, else its plan's default. Any
context of the tenant may read them (the runtime role reads its own tenant's settings and no
other's), so the value is read in the caller's transaction, consistent with what it writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenantry.settings.registry import DEFINITIONS
from tenantry.settings.service import SettingsService

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction

__all__ = ["SETTING_KEYS", "tenant_setting"]

# Every setting a tenant can have.
SETTING_KEYS = frozenset(DEFINITIONS)


async def tenant_setting(tx: Transaction, tenant_id: UUID, key: str) -> Any:  # noqa: ANN401 - JSON values
    """The effective value of setting `key` for the tenant. An unknown key, or a tenant the
    transaction's context cannot see, is `NotFound`."""
    return await SettingsService.effective_value_in(tx, tenant_id, key)
