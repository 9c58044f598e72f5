"""`tenantry db …`: the embedded server, migrations, demo data and context keys."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import psycopg
import typer

from tenantry.cli._common import DatabaseUrlOption, console, database, run, settings
from tenantry.demo import seed_demo
from tenantry.isolation.roles import Roles
from tenantry.kit import dsn, embedded, migrate, silos
from tenantry.kit.invalidation import KEYS, notify
from tenantry.kit.modules import Maintenance, installed_modules

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tenantry.kit.config import Settings
    from tenantry.kit.db import Database
    from tenantry.services import Services

app = typer.Typer(no_args_is_help=True, help="Database server, migrations and keys.")


@app.command()
def start() -> None:
    """Start the embedded PostgreSQL (initialising it on first use) and create the database."""
    config = settings()
    if config.database_url:
        console.print("TENANTRY_DATABASE_URL is set: Tenantry uses that server, nothing to start.")
        return
    url = embedded.start(config.pgdata)
    created = migrate.ensure_database(url, config.database_name)
    console.print(f"embedded PostgreSQL running in {config.pgdata.resolve()}")
    if created:
        console.print(f"created database {config.database_name}")


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL cleanly."""
    config = settings()
    if embedded.stop(config.pgdata):
        console.print("embedded PostgreSQL stopped")
    else:
        console.print("embedded PostgreSQL was not running")


@app.command()
def url() -> None:
    """Print the admin URL of Tenantry's database (psql-compatible)."""
    typer.echo(dsn.admin_url(settings()))


@app.command()
def upgrade(
    database_url: str | None = DatabaseUrlOption,
    revision: str = typer.Option("head", help="Target revision."),
    every: bool = typer.Option(
        False, "--all", help="Then every silo placement too, and copy the catalogs into them."
    ),
) -> None:
    """Create the roles if missing, lock the database down and apply migrations."""
    config = settings(database_url)
    if not config.database_url:
        migrate.ensure_database(dsn.server_url(config), config.database_name)
    home = dsn.admin_url(config)
    targets = [home] + ([url for _, url in silos.placement_admin_urls(home)] if every else [])
    for admin in targets:
        report = migrate.upgrade(
            admin,
            Roles(config.role_prefix),
            runtime_password=config.runtime_password,
            platform_password=config.platform_password,
            revision=revision,
        )
        for warning in report.warnings:
            console.print(f"[yellow]warning:[/yellow] {warning}")
        if report.applied:
            console.print(f"{report.database}: applied {', '.join(report.applied)}")
        else:
            console.print(f"{report.database}: already at {revision}")
    if len(targets) > 1:
        changed = run(lambda s: s.placements.sync())
        console.print(f"catalogs copied to {', '.join(changed)}")


@app.command()
def downgrade(
    revision: str = typer.Argument(..., help="The revision to return to, e.g. 0004."),
    database_url: str | None = DatabaseUrlOption,
    modules: bool = typer.Option(
        False,
        "--modules",
        help="Revert installed modules' migrations first (their tables are dropped).",
    ),
) -> None:
    """Revert migrations down to REVISION (each revision's downgrade, newest first)."""
    config = settings(database_url)
    undone = migrate.downgrade(
        dsn.admin_url(config), Roles(config.role_prefix), revision, modules=modules
    )
    console.print(f"reverted {', '.join(undone)}" if undone else f"already at {revision}")


@app.command("seed-demo")
def seed_demo_command() -> None:
    """Create the demo tenants acme and globex with apps and users (idempotent)."""

    created = run(seed_demo)
    console.print(f"demo data ready ({created['tenants']} tenants, {created['users']} users added)")
    for module in installed_modules():
        if module.seed_demo is not None:
            added = run(_on_database(module.seed_demo))
            counts = ", ".join(f"{n} {what}" for what, n in added.items())
            console.print(f"{module.name} demo data ready ({counts} added)")


def _on_database(
    seed: Callable[[Database], Awaitable[dict[str, int]]],
) -> Callable[[Services], Awaitable[dict[str, int]]]:
    async def with_services(services: Services) -> dict[str, int]:
        return await seed(services.db)

    return with_services


@app.command()
def maintain(database_url: str | None = DatabaseUrlOption) -> None:
    """Run the installed modules' maintenance (e.g. indexes for large knowledge bases); run it
    from cron, or after a bulk load."""
    config = settings(database_url)

    async def main() -> None:
        roles = Roles(config.role_prefix)
        async with (
            database(config) as db,
            await migrate.owner_connection_async(dsn.admin_url(config), roles) as owner,
        ):
            for module in installed_modules():
                if module.maintain is not None:
                    counts = await module.maintain(Maintenance(db, owner))
                    summary = ", ".join(f"{n} {what}" for what, n in counts.items())
                    console.print(f"{module.name}: {summary or 'nothing to do'}")

    asyncio.run(main())


@app.command("rotate-key")
def rotate_key(database_url: str | None = DatabaseUrlOption) -> None:
    """Add a new context-signing key; older keys keep verifying until retired."""
    config = settings(database_url)
    with _owner_connection(config) as conn:
        kid = migrate.add_context_key(conn)
        notify(conn, KEYS)
    console.print(f"new signing key {kid}; running services switch to it now")


@app.command("retire-key")
def retire_key(kid: str, database_url: str | None = DatabaseUrlOption) -> None:
    """Retire a context-signing key: contexts signed with it stop verifying at once."""
    config = settings(database_url)
    with _owner_connection(config) as conn:
        migrate.retire_context_key(conn, kid)
        notify(conn, KEYS)
    console.print(f"retired {kid}")


def _owner_connection(config: Settings) -> psycopg.Connection[tuple[object, ...]]:
    return migrate.owner_connection(dsn.admin_url(config), Roles(config.role_prefix))
