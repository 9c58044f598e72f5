"""`tenantry doctor` and `tenantry db status`."""

from __future__ import annotations

import json

import psycopg
import typer
from alembic.script import ScriptDirectory

from tenantry.cli._common import DatabaseUrlOption, console, print_rows, settings
from tenantry.isolation.roles import Roles
from tenantry.kit import dsn, migrate
from tenantry.kit.modules import installed_modules
from tenantry.operations import doctor


def doctor_command(
    database_url: str | None = DatabaseUrlOption,
    skip_drift: bool = typer.Option(False, help="Skip the schema comparison (it needs CREATEDB)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Schema drift against the migrations, data consistency and slow statements; exit 1 on any
    error-level problem."""
    config = settings(database_url)
    admin = dsn.admin_url(config)
    problems = (
        []
        if skip_drift
        else doctor.schema_drift(admin, dsn.server_url(config), Roles(config.role_prefix))
    )
    problems += doctor.consistency(admin)
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
