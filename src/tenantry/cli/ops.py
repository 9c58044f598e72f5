"""`tenantry doctor` and `tenantry db status`."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, replace

import psycopg
import typer
from alembic.script import ScriptDirectory

from tenantry.cli._common import DatabaseUrlOption, console, database, print_rows, settings
from tenantry.isolation.roles import Roles
from tenantry.kit import dsn, migrate, silos
from tenantry.kit.config import Settings
from tenantry.kit.errors import NotFound
from tenantry.kit.modules import installed_modules
from tenantry.operations import doctor
from tenantry.operations.query_stats.service import StatementReport, tenant_report
from tenantry.tenants.service import TenantDirectory


def doctor_command(
    database_url: str | None = DatabaseUrlOption,
    skip_drift: bool = typer.Option(False, help="Skip the schema comparison (it needs CREATEDB)."),
    as_json: bool = typer.Option(False, "--json"),
    tenant: str | None = typer.Option(
        None,
        "--tenant",
        help="Instead: this tenant's statements (by slug), as the service timed them.",
    ),
    hours: int = typer.Option(24, min=1, max=24 * 90, help="With --tenant: the last N hours."),
    limit: int = typer.Option(20, min=1, max=1000, help="With --tenant: at most N statements."),
) -> None:
    """Schema drift against the migrations, data consistency and slow statements; exit 1 on any
    error-level problem. With --tenant, the tenant's statement timings instead."""
    config = settings(database_url)
    if tenant is not None:
        tenant_statements(config, tenant, hours, limit, as_json=as_json)
        return
    admin, roles = dsn.admin_url(config), Roles(config.role_prefix)
    placements = silos.placement_admin_urls(admin)
    problems: list[doctor.Problem] = []
    for name, url in [("", admin), *placements]:
        found = [] if skip_drift else doctor.schema_drift(url, silos.server_of(url), roles)
        found += doctor.consistency(url)
        problems += [replace(p, subject=f"{name}: {p.subject}") if name else p for p in found]
    problems += doctor.placements(admin, placements)
    slow = doctor.slow_queries(admin)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        typer.echo(
            json.dumps(
                {"problems": [p.as_dict() for p in problems], "slow_queries": slow}, default=str
            )
        )
    else:
        for problem in problems:
            typer.echo(problem.line())
        if slow is None:
            console.print("slow queries: pg_stat_statements is not installed in this database")
        elif slow:
            print_rows(list(slow[0]), [list(r.values()) for r in slow], as_json=False)
        if not problems:
            console.print("[green]doctor: no problems[/green]")
    if errors:
        raise typer.Exit(1)


def tenant_statements(
    config: Settings, slug: str, hours: int, limit: int, *, as_json: bool
) -> None:
    """The tenant's statements by total time: count, total, mean and p95, from what every
    process of the service wrote (`pg_stat_statements` cannot tell tenants apart)."""

    async def read() -> list[StatementReport]:
        async with database(config) as db:
            found = await TenantDirectory(db).by_slug(slug)
            if found is None:
                raise NotFound(f"no tenant {slug!r}")
            return await tenant_report(db, found.id, hours)

    reports = asyncio.run(read())[:limit]
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in reports]))
        return
    if not reports:
        console.print(
            f"no statements of {slug} recorded in the last {hours} h (the service writes them "
            f"every {config.query_stats_flush_seconds:g} s; 0 turns them off)",
            highlight=False,
        )
        return
    console.print(f"statements of {slug} in the last {hours} h, by total time", highlight=False)
    print_rows(
        ["statement", "calls", "total_ms", "mean_ms", "p95_ms", "fingerprint"],
        [
            [r.statement[:120], r.calls, r.total_ms, r.mean_ms, r.p95_ms, r.fingerprint]
            for r in reports
        ],
        as_json=False,
    )


def status_command(
    database_url: str | None = DatabaseUrlOption, as_json: bool = typer.Option(False, "--json")
) -> None:
    """Applied and pending migrations, with when each was applied."""
    config = settings(database_url)
    script = ScriptDirectory.from_config(migrate.alembic_config())
    with psycopg.connect(dsn.admin_url(config)) as conn:
        current, applied_at = migrate.applied_revisions(conn)
        modules = [
            (module.name, migrate.module_revisions(conn, module))
            for module in installed_modules()
            if module.migrations is not None
        ]
    revisions = list(reversed(list(script.walk_revisions())))
    applied_ids = set()
    if current:
        applied_ids = {r.revision for r in script.iterate_revisions(current, "base")}
    rows = [
        [
            r.revision,
            (r.doc or "").splitlines()[0],
            "applied" if r.revision in applied_ids else "pending",
            applied_at.get(r.revision, ""),
        ]
        for r in revisions
    ]
    # Installed modules' revisions, named `<module>:<revision>` (their own version tables).
    rows += [
        [f"{name}:{revision}", doc, "applied" if applied else "pending", ""]
        for name, revisions_of in modules
        for revision, doc, applied in revisions_of
    ]
    print_rows(["revision", "description", "state", "applied_at"], rows, as_json=as_json)
