"""`tenantry citus …`: Tenantry on a Citus cluster (`TENANTRY_DATABASE_URL`: the coordinator)."""

from __future__ import annotations

import typer

from tenantry.citus import service
from tenantry.cli._common import console, settings
from tenantry.isolation.roles import Roles
from tenantry.kit import dsn
from tenantry.kit.errors import InvalidInput

app = typer.Typer(no_args_is_help=True, help="Tenantry on a Citus cluster.")


@app.command()
def distribute() -> None:
    """Distribute the migrated database: tenant tables by tenant_id (co-located), the others
    as reference tables, policies in their Citus form, each worker verifying contexts. Run
    it again after `tenantry db upgrade` (tables already distributed are left alone)."""
    config = settings()
    done = service.distribute(dsn.admin_url(config), Roles(config.role_prefix))
    console.print(
        f"{len(done.distributed)} tenant tables distributed, {len(done.reference)} reference"
        f" tables, {done.policies} policies in their Citus form, {done.workers} workers"
    )
    for key in done.unenforced:
        console.print(
            f"[yellow]not enforced on Citus:[/yellow] foreign key {key} (ON DELETE SET NULL)"
        )


@app.command()
def isolate(
    slug: str,
    to_node: str = typer.Option(
        "", "--to-node", help="host:port of the worker to move the tenant's shards to"
    ),
) -> None:
    """Give a tenant shards of its own in every co-located table, optionally on another worker."""
    target = None
    if to_node:
        host, _, port = to_node.rpartition(":")
        if not host or not port.isdigit():
            raise InvalidInput(f"--to-node takes host:port, not {to_node!r}")
        target = (host, int(port))
    done = service.isolate(dsn.admin_url(settings()), slug, to_node=target)
    console.print(f"tenant {slug} ({done.tenant_id}) alone in shard {done.shard} on {done.node}")
