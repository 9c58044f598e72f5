"""`tenantry serve`: the HTTP API."""

from __future__ import annotations

import os

import typer
import uvicorn

from tenantry.cli._common import settings
from tenantry.kit import logging as tenantry_logging


def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default TENANTRY_HOST)."),
    port: int | None = typer.Option(None, help="Port (default TENANTRY_PORT)."),
    workers: int = typer.Option(
        os.cpu_count() or 1, min=1, max=64, help="Worker processes (default: one per core)."
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="The server (or pooler) the service connects to, as its runtime and platform "
        "roles; default TENANTRY_DATABASE_URL or embedded.",
    ),
) -> None:
    """Serve the REST API and the admin UI."""
    if database_url:
        # The workers are new processes: they read their settings from the environment.
        os.environ["TENANTRY_DATABASE_URL"] = database_url
    config = settings(database_url)
    tenantry_logging.configure(config.log_level)
    uvicorn.run(
        "tenantry.web:create_app",
        factory=True,
        host=host or config.host,
        port=port or config.port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
