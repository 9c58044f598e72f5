"""The database kit: one mechanism turns a unique violation into `Conflict`, whatever the
repository."""

from __future__ import annotations

import pytest

from tenantry.kit.errors import Conflict


async def test_a_unique_violation_is_a_conflict_in_any_repository(db, tenant) -> None:
    """One mechanism: the transaction turns every duplicate into `Conflict`."""
    statement = "INSERT INTO tenantry.tenant_apps (tenant_id, app_id) SELECT %s, id FROM tenantry.apps WHERE slug = 'thinktank'"
    with pytest.raises(Conflict, match="tenant apps"):
        async with db.platform_transaction() as tx:
            await tx.execute(statement, [tenant.id])
