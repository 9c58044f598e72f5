"""Routes for a tenant's administrators: a privilege and a transaction in one dependency, and
reads across every app of the tenant.

    @router.get("/v1/apps/{app}/notes/everywhere")
    async def all_notes(scoped: Annotated[Scoped, CrossAppRead("notes.read")]) -> ...:
        rows = await scoped.tx.fetch_all("SELECT ... FROM notes.notes WHERE tenant_id = %s", ...)

    @router.put("/v1/apps/{app}/notes/policy")
    async def set_policy(scoped: Annotated[Scoped, PrivilegedTransaction("notes.manage")]): ...

The principal must be a user of the admin app holding the privilege somewhere in the tenant
(deny by default; `RequiresPrivilege` explains the answers). `CrossAppRead` gives a READ ONLY
transaction whose signed context reads the rows of every app of the principal's tenant, but
only in tables declared with `ScopedTable(cross_app_read=True)`: everywhere else it sees what
the admin app sees. No other tenant's rows, and no writes, whatever the SQL.
`PrivilegedTransaction` gives a transaction in the principal's own context, as
`TenantTransaction` does.

This module does not use postponed annotations: FastAPI reads the dependency's signature, which
names the guard from the enclosing call.
"""

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from tenantry.http.auth import RequiresPrivilege
from tenantry.identity.principal import Principal
from tenantry.library.dependencies import Scoped

if TYPE_CHECKING:
    from tenantry.services import Services

__all__ = ["CrossAppRead", "PrivilegedTransaction"]


def CrossAppRead(privilege: str) -> Any:  # noqa: ANN401, N802 - a FastAPI dependency marker, named like one
    """A tenant administrator holding `privilege` and a READ ONLY transaction in a cross-app
    context of the tenant."""
    return _transaction(privilege, cross_app=True)


def PrivilegedTransaction(privilege: str) -> Any:  # noqa: ANN401, N802 - a FastAPI dependency marker, named like one
    """A tenant administrator holding `privilege` and a transaction in the principal's own
    context (commits when the route returns, before the answer is sent)."""
    return _transaction(privilege, cross_app=False)


def _transaction(privilege: str, *, cross_app: bool) -> Any:  # noqa: ANN401 - a FastAPI dependency marker
    async def transaction(
        request: Request, principal: Annotated[Principal, RequiresPrivilege(privilege)]
    ) -> AsyncIterator[Scoped]:
        services: Services = request.app.state.services
        context = principal.context
        if cross_app:
            context = replace(context, cross_app=True, read_only=True)
        async with services.db.tenant_transaction(context) as tx:
            # The credential is checked again with the first statement (a revoked session
            # stops at once), as the principal's own transactions do.
            for requirement in services.identity.credential_checks(principal):
                tx.require(*requirement)
            yield Scoped(principal, tx)

    # "function": the transaction ends before the answer is sent.
    return Depends(transaction, scope="function")
