"""`tenantry mail …`: the development mail outbox."""

from __future__ import annotations

import asyncio

import typer

from tenantry.cli._common import database, print_rows, settings

app = typer.Typer(no_args_is_help=True, help="Mail waiting in the outbox.")


@app.command("outbox")
def outbox(
    limit: int = typer.Option(20, min=1, max=1000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show the newest mail (verification and reset codes) across tenants."""

    async def run() -> list[tuple[object, ...]]:
        async with database(settings()) as db, db.platform_transaction() as tx:
            rows = await tx.fetch_all(
                """SELECT m.created_at, t.slug AS tenant, a.slug AS app, m.to_address,
                          m.subject, m.body
                     FROM tenantry.mail_outbox m
                     JOIN tenantry.tenants t ON t.id = m.tenant_id
                     JOIN tenantry.apps a ON a.id = m.app_id
                    ORDER BY m.created_at DESC LIMIT %s""",
                [limit],
            )
        return [tuple(r.values()) for r in rows]

    columns = ["created_at", "tenant", "app", "to", "subject", "body"]
    print_rows(columns, asyncio.run(run()), as_json=as_json)
