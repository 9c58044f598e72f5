"""`tenantry placements …`: the databases tenants live in (the shared one and silos)."""

from __future__ import annotations

import typer

from tenantry.cli._common import console, print_rows, run, settings
from tenantry.isolation.roles import Roles
from tenantry.kit import dsn, migrate, silos
from tenantry.kit.placements import placement_url, relocated

app = typer.Typer(no_args_is_help=True, help="Databases tenants live in: the shared one and silos.")


@app.command("list")
def list_placements(as_json: bool = typer.Option(False, "--json")) -> None:
    """Each placement, where it is and how many tenants live there; unfinished moves."""
    found = run(lambda s: s.placements.list())
    rows = [[p.name, p.url or "(this database)", p.tenants] for p in found]
    print_rows(["placement", "url", "tenants"], rows, as_json=as_json)
    for move in run(lambda s: s.moves.pending()):
        console.print(
            f"[yellow]unfinished move:[/yellow] {move.slug} {move.source} → {move.target}"
            f" ({move.step} since {move.started_at:%Y-%m-%d %H:%M:%S}): run"
            " `tenantry placements recover`"
        )


@app.command()
def add(
    name: str = typer.Argument(..., help="Lower-case letters, digits and dashes."),
    url: str = typer.Argument(
        ..., help="Where the database is, without credentials: postgresql://host:port/dbname"
    ),
) -> None:
    """Create the database if it is missing (on that server, with this installation's admin
    login), migrate it, and register it as a placement with copies of the global catalogs."""
    config = settings()
    where = placement_url(url)
    admin = relocated(dsn.admin_url(config), where)
    migrate.ensure_database(silos.server_of(admin), dsn.database_name(admin))
    migrate.upgrade(
        admin,
        Roles(config.role_prefix),
        runtime_password=config.runtime_password,
        platform_password=config.platform_password,
    )
    silos.clear_catalogs(admin)
    run(lambda s: s.placements.add(name, where))
    console.print(f"placement {name} added ({where})")


@app.command()
def remove(name: str) -> None:
    """Forget a placement no tenant lives in (its database is left as it is)."""
    run(lambda s: s.placements.remove(name))
    console.print(f"placement {name} removed")


@app.command()
def sync() -> None:
    """Bring every silo's copies of the global catalogs to what the home database has."""
    changed = run(lambda s: s.placements.sync())
    for name, rows in changed.items():
        console.print(f"{name}: {rows} catalog rows changed")
    if not changed:
        console.print("no silos")


@app.command()
def recover() -> None:
    """Finish every move that had switched, undo every other, after a crash."""
    done = run(lambda s: s.moves.recover())
    for slug, outcome in done:
        console.print(f"{slug}: move {outcome}")
    if not done:
        console.print("no unfinished moves")
