"""`tenantry sql`: arbitrary SQL as the runtime role inside one tenant's signed context.

The safe console for support work on one tenant's data, and the harness that proves isolation:
whatever is typed here runs with exactly the rights of a request of that tenant and app.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
import typer

from tenantry.cli._common import console, err_console, print_rows, run
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import NotFound

if TYPE_CHECKING:
    from tenantry.kit.db import Database
    from tenantry.services import Services


@dataclass(frozen=True, slots=True)
class Result:
    columns: list[str]
    rows: list[list[Any]]
    status: str


def sql_command(
    statement: str | None = typer.Argument(None, help="SQL; omit for an interactive session."),
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    app: str = typer.Option(..., "--app", help="App slug."),
    user: str | None = typer.Option(None, "--user", help="Act as this app user (email)."),
    cross_app: bool = typer.Option(
        False, "--cross-app", help="Tenant-admin context: read every app of the tenant."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print rows as a JSON list of objects."),
) -> None:
    """Run SQL as the runtime role in a signed tenant/app context (one transaction, commits)."""

    async def work(services: Services) -> None:
        await services.apps.reload()
        context = await resolve_context(services, tenant, app, user, cross_app=cross_app)
        if statement is not None:
            show(await execute(services.db, context, statement), as_json=as_json)
            return
        await interactive(services.db, context, f"{tenant}/{app}", as_json=as_json)

    run(work)


async def resolve_context(
    services: Services, tenant_slug: str, app_slug: str, email: str | None, *, cross_app: bool
) -> TenantContext:
    tenant = await services.tenants.by_slug(tenant_slug)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_slug!r}")
    app = services.apps.by_slug(app_slug)
    context = TenantContext(tenant_id=tenant.id, app_id=app.id, cross_app=cross_app)
    if email is None:
        return context
    found = await services.users.find(tenant.id, app.id, email)
    if found is None:
        raise NotFound(f"no user {email!r} in {tenant_slug}/{app_slug}")
    return TenantContext(tenant.id, app.id, found.id, cross_app=cross_app)


async def execute(db: Database, context: TenantContext, statement: str) -> Result:
    """Run one or more `;`-separated statements in one transaction; keep the last result."""
    async with db.tenant_transaction(context) as tx:
        conn = await tx.connection()
        cursor = conn.cursor(row_factory=psycopg.rows.tuple_row)
        await cursor.execute(statement.encode())  # bytes: a script, not a parameterised query
        result = Result([], [], "")
        while True:
            columns = [c.name for c in cursor.description or []]
            rows = [list(r) for r in await cursor.fetchall()] if cursor.description else []
            result = Result(columns, rows, cursor.statusmessage or "")
            if not cursor.nextset():
                break
        return result


def show(result: Result, *, as_json: bool) -> None:
    if result.columns:
        print_rows(result.columns, result.rows, as_json=as_json)
    elif as_json:
        typer.echo("[]")
    else:
        console.print(result.status)


async def interactive(db: Database, context: TenantContext, label: str, *, as_json: bool) -> None:
    console.print(f"Runtime role in {label}. End statements with ';', \\q to quit.")
    buffer: list[str] = []
    while True:
        try:
            line = await asyncio.to_thread(input, f"{label}{'-' if buffer else '='}> ")
        except EOFError:
            break
        if line.strip() == "\\q":
            break
        buffer.append(line)
        text = "\n".join(buffer).strip()
        if not text.endswith(";"):
            continue
        buffer.clear()
        try:
            show(await execute(db, context, text), as_json=as_json)
        except psycopg.Error as exc:
            err_console.print(f"[red]error:[/red] {exc.diag.message_primary or exc}")
