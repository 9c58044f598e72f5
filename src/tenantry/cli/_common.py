"""Shared CLI plumbing: settings, the database handle and one-line errors."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from tenantry.kit import dsn
from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings, get_settings
from tenantry.kit.db import Database
from tenantry.kit.invalidation import Listener
from tenantry.kit.metrics import Metrics
from tenantry.services import Services, build_services

if TYPE_CHECKING:
    from collections.abc import Sequence

console = Console()
err_console = Console(stderr=True)

DatabaseUrlOption = typer.Option(
    None,
    "--database-url",
    help="Admin (superuser or owner) URL; default TENANTRY_DATABASE_URL or embedded.",
)


def settings(database_url: str | None = None) -> Settings:
    base = get_settings()
    return base.model_copy(update={"database_url": database_url}) if database_url else base


def database(config: Settings) -> Database:
    db = Database(
        dsn.runtime_url(config),
        dsn.platform_url(config),
        context_ttl_seconds=config.context_ttl_seconds,
        min_size=1,
        max_size=2,
        prepared_statements=config.pooler == "none",
    )
    if config.redis_url:
        # Services listening on Redis hear of the CLI's changes too (PostgreSQL's NOTIFY is
        # sent by every commit anyway).
        publisher = Listener("", config.redis_url)
        db.commit_listeners.append(publisher.publish)
        db.close_callbacks.append(publisher.stop)
    return db


def operator() -> Actor:
    """Who made a change from the command line, for the audit trails."""
    return Actor.operator(getpass.getuser())


T = TypeVar("T")


def run(work: Callable[[Services], Awaitable[T]]) -> T:
    """Open the database, run `work` with the services built on it, close it."""

    async def main() -> T:
        config = settings()
        async with database(config) as db:
            return await work(build_services(config, db, Metrics()))

    return asyncio.run(main())


def print_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str))
        return
    table = Table(*columns, show_lines=False)
    for row in rows:
        table.add_row(*("∅" if value is None else str(value) for value in row))
    console.print(table)
