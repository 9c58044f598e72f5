"""`tenantry mail …`: the development mail outbox."""

from __future__ import annotations

import asyncio

import typer

from tenantry.cli._common import console, database, print_rows, run, settings
from tenantry.identity.mail import SmtpSender, deliver_pending, newest
from tenantry.kit.errors import ConfigurationError

app = typer.Typer(no_args_is_help=True, help="Mail waiting in the outbox.")


@app.command("outbox")
def outbox(
    limit: int = typer.Option(20, min=1, max=1000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show the newest mail (verification and reset codes) across tenants."""

    rows = run(lambda s: newest(s.db, limit))
    columns = ["created_at", "tenant", "app", "to", "subject", "body"]
    print_rows(columns, [list(r.values()) for r in rows], as_json=as_json)


@app.command()
def deliver(
    loop: bool = typer.Option(False, "--loop", help="Keep delivering every few seconds."),
    interval: float = typer.Option(5.0, min=0.5, help="Seconds between runs with --loop."),
) -> None:
    """Send unsent outbox mail through TENANTRY_SMTP_URL."""
    config = settings()
    if not config.smtp_url:
        raise ConfigurationError("TENANTRY_SMTP_URL is not set; mail stays in the outbox")
    sender = SmtpSender(config.smtp_url, config.mail_from)

    async def run() -> None:
        async with database(config) as db:
            while True:
                sent, failed = await deliver_pending(db, sender)
                if sent or failed:
                    console.print(
                        f"sent {sent}" + (f", {failed} failed (will retry)" if failed else "")
                    )
                if not loop:
                    if failed:
                        raise typer.Exit(1)
                    return
                await asyncio.sleep(interval)

    asyncio.run(run())
