"""`tenantry events …`: the events table's monthly partitions, retention and replay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from tenantry.cli._common import console, print_rows, run

if TYPE_CHECKING:
    from tenantry.services import Services

app = typer.Typer(no_args_is_help=True, help="Published events: partitions, retention, replay.")

JsonOption = typer.Option(False, "--json", help="Machine-readable output.")


@app.command("partitions")
def partitions(
    months_ahead: int = typer.Option(
        2, "--months-ahead", min=0, max=36, help="Create partitions up to this many months ahead."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create the coming months' partitions (idempotent) and list every partition."""

    async def work(services: Services) -> tuple[list[str], list[str]]:
        created = await services.outbox.ensure_partitions(months_ahead)
        return created, await services.outbox.partitions()

    created, every = run(work)
    print_rows(
        ["partition", "created"], [[name, name in created] for name in every], as_json=as_json
    )


@app.command("prune")
def prune(
    older_than_months: int = typer.Option(
        ...,
        "--older-than-months",
        min=1,
        help="Drop the months that ended more than this many months before the current one.",
    ),
) -> None:
    """Drop whole old months of events, with their deliveries and consumption records."""
    dropped = run(lambda s: s.outbox.prune(older_than_months))
    console.print(
        f"dropped {len(dropped)} partition(s){': ' if dropped else ''}{' '.join(dropped)}"
    )


@app.command("replay")
def replay(
    tenant: str = typer.Option(..., "--tenant", help="The tenant's slug."),
    consumer: str | None = typer.Option(None, "--consumer", help="Only this consumer."),
    since: datetime | None = typer.Option(
        None, "--since", help="Only events created at or after this time (ISO 8601)."
    ),
    dead_only: bool = typer.Option(False, "--dead-only", help="Only dead letters."),
) -> None:
    """Deliver a tenant's events again: deliveries back to pending with no attempts."""

    async def work(services: Services) -> int:
        tenant_id = await services.outbox.tenant_id(tenant)
        # A time without a zone is UTC, as everywhere in Tenantry.
        start = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
        return await services.outbox.replay(
            tenant_id, consumer=consumer, since=start, dead_only=dead_only
        )

    count = run(work)
    console.print(f"{count} deliver{'y' if count == 1 else 'ies'} queued again")
