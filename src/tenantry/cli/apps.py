"""`tenantry apps …`: the catalog and each app's token signing keys."""

from __future__ import annotations

import typer

from tenantry.cli._common import console, print_rows, run
from tenantry.services import Services

app = typer.Typer(no_args_is_help=True, help="Apps and their token signing keys.")


@app.command("list")
def list_apps(as_json: bool = typer.Option(False, "--json")) -> None:
    """The apps catalog with each app's active signing keys."""

    async def work(s: Services) -> list[list[object]]:
        await s.apps.reload()
        kids = await s.keys.active_kids()
        return [
            [a.slug, a.name, a.status, " ".join(kids.get(a.id, []))]
            for a in sorted(s.apps.all(), key=lambda a: a.slug)
        ]

    print_rows(
        ["slug", "name", "status", "signing keys (oldest first)"], run(work), as_json=as_json
    )


@app.command("rotate-key")
def rotate_key(slug: str) -> None:
    """Add a signing key for an app; it signs from now on (after services reload their keys),
    and the older keys keep verifying until retired."""

    async def work(s: Services) -> str:
        await s.apps.reload()
        return await s.keys.rotate(s.apps.by_slug(slug).id)

    kid = run(work)
    console.print(f"{slug}: new signing key {kid}; retire the old one once its tokens have expired")


@app.command("retire-key")
def retire_key(kid: str) -> None:
    """Retire a signing key: tokens it signed stop verifying, and it leaves the JWKS."""
    run(lambda s: s.keys.retire(kid))
    console.print(f"retired {kid}")
