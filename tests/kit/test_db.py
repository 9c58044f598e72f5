"""The database kit: one mechanism turns a unique violation into `Conflict`, whatever the
repository."""

from __future__ import annotations

import psycopg
import pytest

from tenantry.kit.context import TenantContext
from tenantry.kit.errors import Conflict
from tests.support.accounts import make_tenant
from tests.support.wiring import services_for


async def test_a_unique_violation_is_a_conflict_in_any_repository(db, tenant) -> None:
    """One mechanism: the transaction turns every duplicate into `Conflict`."""
    statement = "INSERT INTO tenantry.tenant_apps (tenant_id, app_id) SELECT %s, id FROM tenantry.apps WHERE slug = 'thinktank'"
    with pytest.raises(Conflict, match="tenant apps"):
        async with db.platform_transaction() as tx:
            await tx.execute(statement, [tenant.id])


async def test_a_switched_context_always_gives_the_transactions_own_back(db) -> None:
    """A caller that catches an error inside `switched` (its savepoint rolled back) goes on in
    its own tenant, never in the one it switched to."""
    services = services_for(db)
    await services.apps.reload()
    app = services.apps.by_slug("thinktank").id
    mine, theirs = await make_tenant(db, "thinktank"), await make_tenant(db, "thinktank")
    other = db.signer.sign_tenant(TenantContext(theirs.id, app))
    scope = "SELECT tenant_id FROM tenantry.current_scope"
    async with db.tenant_transaction(TenantContext(mine.id, app)) as tx:
        async with tx.switched(other):
            assert (await tx.fetch_one(scope, []))["tenant_id"] == theirs.id
        assert (await tx.fetch_one(scope, []))["tenant_id"] == mine.id
        await tx.execute("SAVEPOINT attempt", [])
        with pytest.raises(psycopg.errors.DivisionByZero):
            async with tx.switched(other):
                await tx.execute("SELECT 1 / 0", [])
        await tx.execute("ROLLBACK TO SAVEPOINT attempt", [])
        assert (await tx.fetch_one(scope, []))["tenant_id"] == mine.id
        with pytest.raises(LookupError):
            async with tx.switched(other):
                raise LookupError
        assert (await tx.fetch_one(scope, []))["tenant_id"] == mine.id
