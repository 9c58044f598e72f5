"""`tenantry audit-db`."""

from __future__ import annotations

import json

import typer

from tenantry.cli._common import DatabaseUrlOption, console, settings
from tenantry.isolation.audit import audit
from tenantry.isolation.roles import Roles
from tenantry.kit import dsn


def audit_db(
    database_url: str | None = DatabaseUrlOption,
    as_json: bool = typer.Option(False, "--json", help="Findings as a JSON list."),
) -> None:
    """Check every isolation invariant against the live catalog; exit 1 on any finding."""
    config = settings(database_url)
    findings = audit(dsn.admin_url(config), Roles(config.role_prefix))
    if as_json:
        typer.echo(json.dumps([f.as_dict() for f in findings]))
    elif findings:
        for finding in findings:
            typer.echo(finding.line())
    else:
        console.print("[green]audit-db: no findings[/green]")
    if findings:
        raise typer.Exit(1)
