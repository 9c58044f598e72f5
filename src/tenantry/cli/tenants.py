"""`tenantry tenants …`: the control plane from a terminal."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tenantry.cli._common import console, err_console, operator, print_rows, run
from tenantry.kit.errors import InvalidInput, TenantryError
from tenantry.services import Services
from tenantry.tenants.lifecycle import ProvisionRequest, PurgeReport

app = typer.Typer(no_args_is_help=True, help="Tenants: list, provision, lifecycle, domains, purge.")
domains_app = typer.Typer(no_args_is_help=True, help="A tenant's domains.")
app.add_typer(domains_app, name="domains")

JsonOption = typer.Option(False, "--json", help="Machine-readable output.")
ReasonOption = typer.Option(..., "--reason", "-r", help="Why (kept in the lifecycle trail).")


def _echo_json(value: Any) -> None:  # noqa: ANN401 - any JSON-able value
    typer.echo(json.dumps(value, default=str))


COLUMNS = ["slug", "name", "status", "plan", "created_at"]


@app.command("list")
def list_tenants(
    query: str | None = typer.Option(None, "--search", "-s", help="Match slug or name."),
    status: str | None = typer.Option(
        None, help="pending, active, suspended, deprovisioned, purged."
    ),
    plan: str | None = typer.Option(None),
    limit: int = typer.Option(50, min=1, max=10_000),
    offset: int = typer.Option(0, min=0),
    as_json: bool = JsonOption,
) -> None:
    """List tenants."""
    items, total = run(
        lambda s: s.tenant_admin.search(
            query=query, status=status, plan=plan, limit=limit, offset=offset
        )
    )
    if as_json:
        _echo_json({"total": total, "items": [asdict(t) for t in items]})
        return
    print_rows(COLUMNS, [[getattr(t, c) for c in COLUMNS] for t in items], as_json=False)
    console.print(f"{len(items)} of {total}")


@app.command()
def show(slug: str, as_json: bool = JsonOption) -> None:
    """A tenant with its apps, domains, settings and lifecycle trail."""

    async def work(s: Services) -> dict[str, Any]:
        detail = await s.tenant_admin.detail(slug)
        detail["settings"] = await s.settings_admin.effective(slug)
        return detail

    detail = run(work)
    if as_json:
        _echo_json({**detail, "tenant": asdict(detail["tenant"])})
        return
    tenant = detail["tenant"]
    console.print(
        f"[bold]{tenant.name}[/bold] ({tenant.slug}) — {tenant.status}, plan {tenant.plan}"
    )
    console.print("apps: " + ", ".join(a["slug"] for a in detail["apps"]))
    print_rows(["setting", "value"], sorted(detail["settings"].items()), as_json=False)
    if detail["domains"]:
        print_rows(
            ["domain", "verified", "primary"],
            [[d["domain"], d["verified_at"], d["is_primary"]] for d in detail["domains"]],
            as_json=False,
        )
    print_rows(
        ["when", "from", "to", "actor", "reason"],
        [
            [e["created_at"], e["from_status"], e["to_status"], e["actor"], e["reason"]]
            for e in detail["events"]
        ],
        as_json=False,
    )


@app.command()
def create(
    slug: str,
    name: str = typer.Option(..., help="Display name."),
    admin_email: str = typer.Option(..., help="The first administrator (invited by mail)."),
    plan: str = typer.Option("free"),
    apps: str = typer.Option("", help="Comma-separated app slugs to enable."),
    idempotency_key: str | None = typer.Option(None, help="Repeat safely with the same key."),
    as_json: bool = JsonOption,
) -> None:
    """Provision a tenant atomically (tenant, apps, first admin, plan)."""
    request = _request(slug=slug, name=name, admin_email=admin_email, plan=plan, apps=apps)
    result = run(
        lambda s: s.tenant_admin.provision(request, by=operator(), idempotency_key=idempotency_key)
    )
    if as_json:
        _echo_json({"created": result.created, "tenant": asdict(result.tenant)})
    else:
        verb = "provisioned" if result.created else "already provisioned (same idempotency key)"
        console.print(f"{result.tenant.slug} {verb}; invitation mailed to {admin_email}")


def _request(**fields: str) -> ProvisionRequest:
    apps = [a.strip() for a in fields.pop("apps", "").split(",") if a.strip()]
    try:
        return ProvisionRequest.model_validate({**fields, "apps": apps})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


@app.command("import")
def import_csv(
    path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV: slug,name,admin_email[,plan,apps]"
    ),
) -> None:
    """Provision many tenants from a CSV file, each atomically; failures are listed, not fatal.

    The idempotency key is `import:<slug>`, so re-running the same file is safe.
    """
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = {"slug", "name", "admin_email"} - set(rows[0] if rows else {})
    if missing:
        raise InvalidInput(f"{path}: missing columns {', '.join(sorted(missing))}")
    numbered = [
        (n, {k: v for k, v in row.items() if k and v is not None}) for n, row in enumerate(rows, 2)
    ]

    async def work(s: Services) -> list[str]:
        service = s.tenant_admin
        failures: list[str] = []
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, transient=not sys.stderr.isatty()) as progress:
            task = progress.add_task("provisioning", total=len(numbered))
            for line, row in numbered:
                try:
                    request = _request(**row)
                    await service.provision(
                        request, by=operator(), idempotency_key=f"import:{request.slug}"
                    )
                except TenantryError as exc:
                    failures.append(f"line {line} ({row.get('slug', '')}): {exc.message}")
                progress.advance(task)
        return failures

    failures = run(work)
    for failure in failures:
        err_console.print(f"[red]failed[/red] {failure}", highlight=False)
    console.print(f"{len(numbered) - len(failures)} of {len(numbered)} tenants provisioned")
    if failures:
        raise typer.Exit(1)


def _transition(action: str) -> Callable[..., None]:
    def command(slug: str, reason: str = ReasonOption) -> None:
        tenant = run(
            lambda s: s.tenant_admin.transition(slug, action, reason=reason, by=operator())
        )
        console.print(f"{tenant.slug}: {tenant.status}")

    command.__doc__ = f"{action.capitalize()} a tenant (with a reason, audited)."
    return command


for _action in ("activate", "suspend", "resume", "deprovision"):
    app.command(_action)(_transition(_action))


@app.command()
def purge(
    slug: str,
    reason: str = ReasonOption,
    force: bool = typer.Option(False, help="Skip the grace period."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Delete every row of a deprovisioned tenant in every tenant table, and prove none is left."""
    if not yes and not typer.confirm(f"Delete all data of {slug}? This cannot be undone"):
        raise typer.Exit(1)

    async def work(s: Services) -> PurgeReport:
        with Progress(
            TextColumn("purging {task.fields[table]}"), console=err_console, transient=True
        ) as progress:
            task = progress.add_task("purge", table="")
            return await s.tenant_admin.purge(
                slug,
                by=operator(),
                reason=reason,
                force=force,
                on_step=lambda table: progress.update(task, table=table),
            )

    report = run(work)
    if as_json:
        _echo_json(asdict(report))
        return
    print_rows(
        ["table", "deleted", "left"],
        [[t, n, report.remaining[t]] for t, n in report.deleted.items()],
        as_json=False,
    )
    console.print(f"{slug} purged: {sum(report.deleted.values())} rows deleted, 0 left")


@domains_app.command("add")
def domains_add(slug: str, domain: str) -> None:
    """Add a domain; prints the TXT record to publish."""
    record = run(lambda s: s.domains.add(slug, domain, by=operator()))
    console.print(f'publish TXT {record["record"]} = "{record["value"]}", then run verify')


@domains_app.command("verify")
def domains_verify(slug: str, domain: str) -> None:
    """Check the TXT record and claim the domain for the tenant."""
    run(lambda s: s.domains.verify(slug, domain, by=operator()))
    console.print(f"{domain} verified for {slug}")


@domains_app.command("primary")
def domains_primary(slug: str, domain: str) -> None:
    """Make a verified domain the tenant's primary one."""
    run(lambda s: s.domains.set_primary(slug, domain, by=operator()))
    console.print(f"{domain} is now {slug}'s primary domain")


@domains_app.command("remove")
def domains_remove(slug: str, domain: str) -> None:
    """Remove a domain (and release its claim)."""
    run(lambda s: s.domains.remove(slug, domain, by=operator()))
    console.print(f"{domain} removed from {slug}")


MIN_PASSPHRASE = 12
PassphraseOption = typer.Option(
    "TENANTRY_ARCHIVE_PASSPHRASE",
    "--passphrase-env",
    help="The environment variable holding the archive's passphrase (never a command argument).",
)


def _passphrase(variable: str) -> str | None:
    value = os.environ.get(variable)
    if value is not None and len(value) < MIN_PASSPHRASE:
        raise InvalidInput(f"{variable} is set but shorter than {MIN_PASSPHRASE} characters")
    return value


@app.command()
def export(
    slug: str,
    out: Path = typer.Option(..., "--out", "-o", help="The archive file to write."),
    with_secrets: bool = typer.Option(
        False, "--with-secrets", help="Include secrets, re-wrapped under the passphrase."
    ),
    passphrase_env: str = PassphraseOption,
) -> None:
    """Write every row of the tenant to a portable archive (GDPR export, moving installations).

    Signed when the passphrase variable is set; required with --with-secrets."""
    passphrase = _passphrase(passphrase_env)
    manifest = run(
        lambda s: s.archives.export(
            slug, out, by=operator(), passphrase=passphrase, secrets=with_secrets
        )
    )
    rows = sum(t.rows for t in manifest.tables)
    signed = "signed" if passphrase else "unsigned"
    console.print(
        f"{slug}: {rows} rows in {len(manifest.tables)} tables, secrets {manifest.secrets}, "
        f"{signed}, written to {out}"
    )


@app.command("import-archive")
def import_archive(path: Path, passphrase_env: str = PassphraseOption) -> None:
    """Create a tenant from an archive made by `tenants export`, keeping its ids; a tampered or
    incompatible archive is refused before anything is written."""
    passphrase = _passphrase(passphrase_env)
    report = run(lambda s: s.archives.import_(path, by=operator(), passphrase=passphrase))
    console.print(f"{report.slug} imported: {sum(report.rows.values())} rows")


@app.command()
def move(
    slug: str,
    to: str = typer.Option(..., "--to", help="The placement to move the tenant to."),
) -> None:
    """Move a tenant to another placement: its writes pause while its rows are copied and
    verified, then it is served from there; a failure or crash leaves it whole where it was
    (or, past the switch, where it went: `tenantry placements recover` finishes the move)."""
    report = run(lambda s: s.moves.move(slug, to, by=operator()))
    console.print(
        f"{slug} moved {report.source} → {report.target}: {report.rows} rows in"
        f" {report.tables} tables; writes paused {report.frozen_seconds:.1f} s,"
        f" {report.seconds:.1f} s in all"
    )
