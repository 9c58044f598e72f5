"""Tenantry: one tenant, and one app inside a tenant, can never reach another's data.

The library API:

    async with Database(runtime_url, platform_url) as db:
        async with db.tenant_transaction(TenantContext(tenant_id, app_id)) as tx:
            rows = await tx.fetch_all("SELECT * FROM my_table WHERE tenant_id = %s", [tenant_id])
"""

from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database, Transaction

__all__ = ["Database", "TenantContext", "Transaction"]
