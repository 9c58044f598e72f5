"""`tenantry.library.settings.tenant_setting`: a tenant's own value or its plan's default, read
in the caller's transaction; another tenant's settings do not exist for it."""

from __future__ import annotations

import pytest

from tenantry.kit.context import TenantContext
from tenantry.kit.errors import InvalidInput, NotFound
from tenantry.library.settings import SETTING_KEYS, tenant_setting
from tests.support.accounts import make_tenant
from tests.support.wiring import FIXTURES, services_for


async def test_own_value_else_the_plans_default(db, tenant) -> None:
    context = TenantContext(tenant.id)
    async with db.tenant_transaction(context) as tx:
        assert await tenant_setting(tx, tenant.id, "ai_monthly_budget_usd") == 50.0  # free plan
    await services_for(db).settings_admin.set(
        tenant.slug, "ai_monthly_budget_usd", 12.5, by=FIXTURES, reason="t"
    )
    async with db.tenant_transaction(context) as tx:
        assert await tenant_setting(tx, tenant.id, "ai_monthly_budget_usd") == 12.5
    await services_for(db).settings_admin.set(
        tenant.slug, "ai_monthly_budget_usd", None, by=FIXTURES, reason="no budget"
    )
    async with db.tenant_transaction(context) as tx:
        assert await tenant_setting(tx, tenant.id, "ai_monthly_budget_usd") is None
    assert "ai_monthly_budget_usd" in SETTING_KEYS


async def test_another_tenant_and_unknown_keys_are_not_found(db, tenant) -> None:
    other = await make_tenant(db, "thinktank")
    async with db.tenant_transaction(TenantContext(tenant.id)) as tx:
        with pytest.raises(NotFound):
            await tenant_setting(tx, other.id, "locale")
    async with db.tenant_transaction(TenantContext(tenant.id)) as tx:
        with pytest.raises(NotFound):
            await tenant_setting(tx, tenant.id, "no_such_setting")


async def test_a_budget_is_a_non_negative_number_or_nothing(db, tenant) -> None:
    settings = services_for(db).settings_admin
    for bad in (-1, "lots", float("inf")):
        with pytest.raises(InvalidInput, match="ai_monthly_budget_usd"):
            await settings.set(tenant.slug, "ai_monthly_budget_usd", bad, by=FIXTURES, reason="t")
