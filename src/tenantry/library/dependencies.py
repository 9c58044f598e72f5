"""FastAPI dependencies for routes of your own, under Tenantry's authentication.

    @router.post("/v1/apps/{app}/notes")
    async def add_note(body: NoteIn, scoped: Annotated[Scoped, TenantTransaction(Scope.PROFILE)]):
        await scoped.tx.execute("INSERT INTO notes.notes ...", [...])

    @router.patch("/v1/apps/{app}/notes/{note_id}")
    async def edit(..., orm: Annotated[ScopedSession, TenantSession(Scope.PROFILE)]):
        note = await orm.session.get(Note, (orm.principal.tenant_id, note_id))

The route gets the principal `Requires` verified and a transaction (or a SQLAlchemy session) in
that principal's signed context; it commits when the route returns (before the answer leaves)
and rolls back when it raises. This module does not use postponed annotations: FastAPI reads
the dependency's signature, which names the route's scopes from the enclosing call.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Annotated, Any

import psycopg
import sqlalchemy.exc
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.http.auth import Requires
from tenantry.identity.principal import Principal, Scope
from tenantry.kit.db import Database, Transaction, conflict
from tenantry.kit.errors import Conflict
from tenantry.library.orm import shared_sessions
from tenantry.services import Services


@dataclass(frozen=True, slots=True)
class Scoped:
    """A verified principal and a transaction in its signed context."""

    principal: Principal
    tx: Transaction


@dataclass(frozen=True, slots=True)
class ScopedSession:
    """A verified principal and a SQLAlchemy session in its signed context."""

    principal: Principal
    session: AsyncSession


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def database(request: Request) -> Database:
    """The service's database (its pools and context signer)."""
    return _services(request).db


def TenantTransaction(*scopes: Scope, read_only: bool = False) -> Any:  # noqa: ANN401, N802 - a FastAPI dependency marker, named like one
    """The principal (holding every scope in `scopes`) and a transaction in its context.

    The credential is checked again with the transaction's first statement, in the same round
    trip, as Tenantry's own routes do: a revoked session stops working at once, not when its
    access token expires. `read_only` makes it a READ ONLY transaction. A constraint that
    fails only at commit (a deferred one) answers 409 `conflict`, never a success."""

    async def transaction(
        request: Request, principal: Annotated[Principal, Requires(*scopes)]
    ) -> AsyncIterator[Scoped]:
        services = _services(request)
        context = replace(principal.context, read_only=True) if read_only else principal.context
        committing = False
        try:
            async with services.db.tenant_transaction(context) as tx:
                for requirement in services.identity.credential_checks(principal):
                    tx.require(*requirement)
                yield Scoped(principal, tx)
                committing = True
        except psycopg.errors.IntegrityError as exc:
            # The route's own statements raise where they run; only the commit lands here.
            if not committing:
                raise
            raise conflict(exc) from exc

    # "function": the transaction ends before the answer is sent, so a failed commit is the
    # client's error answer, never a success already on the wire.
    return Depends(transaction, scope="function")


def TenantSession(*scopes: Scope, read_only: bool = False) -> Any:  # noqa: ANN401, N802 - a FastAPI dependency marker, named like one
    """`TenantTransaction` for the ORM: the principal and a SQLAlchemy async session whose
    transactions run in its context (`tenantry.library.orm`), committed before the answer.

    The credential is checked again first (one round trip), so a revoked session stops at once.
    """

    async def session(
        request: Request, principal: Annotated[Principal, Requires(*scopes)]
    ) -> AsyncIterator[ScopedSession]:
        services = _services(request)
        await services.db.check(principal.context, services.identity.credential_checks(principal))
        context = replace(principal.context, read_only=True) if read_only else principal.context
        committing = False
        try:
            async with shared_sessions(services.db).session(context) as orm:
                yield ScopedSession(principal, orm)
                committing = True
        except sqlalchemy.exc.IntegrityError as exc:
            if not committing:
                raise
            # Flushed or checked at commit: a key or constraint the route's changes break.
            if isinstance(exc.orig, psycopg.errors.IntegrityError):
                raise conflict(exc.orig) from exc
            raise Conflict("conflict") from exc

    return Depends(session, scope="function")
