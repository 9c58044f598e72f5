"""`tenantry audit-db` (the database's isolation invariants) and `tenantry audit …` (the
tenants' audit log)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from tenantry.cli._common import DatabaseUrlOption, console, operator, run, settings
from tenantry.isolation.audit import audit
from tenantry.isolation.roles import Roles
from tenantry.kit import dsn, silos

if TYPE_CHECKING:
    from tenantry.audit_log.models import ChainStatus
    from tenantry.services import Services


def audit_db(
    database_url: str | None = DatabaseUrlOption,
    as_json: bool = typer.Option(False, "--json", help="Findings as a JSON list."),
    every: bool = typer.Option(False, "--all", help="Every silo placement too."),
) -> None:
    """Check every isolation invariant against the live catalog; exit 1 on any finding."""
    config = settings(database_url)
    home, roles = dsn.admin_url(config), Roles(config.role_prefix)
    findings = audit(home, roles)
    for name, admin in silos.placement_admin_urls(home) if every else []:
        findings += [replace(f, object=f"{name}: {f.object}") for f in audit(admin, roles)]
    if as_json:
        typer.echo(json.dumps([f.as_dict() for f in findings]))
    elif findings:
        for finding in findings:
            typer.echo(finding.line())
    else:
        console.print("[green]audit-db: no findings[/green]")
    if findings:
        raise typer.Exit(1)


app = typer.Typer(
    no_args_is_help=True, help="The tenants' audit log: verify its chain, export it, prune it."
)
TenantOption = typer.Option(None, "--tenant", help="Only this tenant (slug).")


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{option} must be an ISO 8601 date or time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("verify")
def verify(
    tenant: str | None = TenantOption,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per tenant."),
) -> None:
    """Recompute each tenant's hash chain; name the first edited, deleted, inserted or
    reordered row and exit 1 if any chain is broken."""

    async def work(services: Services) -> list[ChainStatus]:
        found = []
        async for status in services.audit.verify(tenant):
            found.append(status)
            if as_json:
                typer.echo(json.dumps({**asdict(status), "tenant_id": str(status.tenant_id)}))
            else:
                typer.echo(status.line())
        return found

    statuses = run(work)
    if any(not s.ok for s in statuses):
        raise typer.Exit(1)


@app.command("export")
def export(
    tenant: str | None = TenantOption,
    since: str | None = typer.Option(None, "--since", help="From this time (ISO 8601, UTC)."),
    until: str | None = typer.Option(None, "--until", help="Before this time (ISO 8601, UTC)."),
) -> None:
    """The log as JSON lines on stdout, in chain order, streamed a batch at a time."""
    start, end = _moment(since, "--since"), _moment(until, "--until")

    async def work(services: Services) -> None:
        async for entry in services.audit.export(tenant, since=start, until=end):
            sys.stdout.write(json.dumps(entry.as_json(), default=str) + "\n")
        sys.stdout.flush()

    run(work)


@app.command("prune")
def prune(tenant: str | None = TenantOption) -> None:
    """Remove entries older than each tenant's `audit_retention_days`, behind a recorded
    checkpoint so verification stays green."""
    results = run(
        lambda s: s.audit.prune(s.settings_admin.audit_retention_days, by=operator(), slug=tenant)
    )
    for result in results:
        if result.rows:
            console.print(
                f"{result.tenant}: pruned {result.rows} rows (through seq {result.through_seq})"
            )
    console.print(f"audit prune: {sum(r.rows for r in results)} rows removed")
