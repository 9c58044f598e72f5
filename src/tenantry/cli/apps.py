"""`tenantry apps …`: the catalog and each app's token signing keys."""

from __future__ import annotations

import asyncio

import typer

from tenantry.apps import repository as apps_repo
from tenantry.cli._common import console, database, print_rows, settings
from tenantry.identity import keys
from tenantry.kit.errors import InvalidInput, NotFound

app = typer.Typer(no_args_is_help=True, help="Apps and their token signing keys.")


@app.command("list")
def list_apps(as_json: bool = typer.Option(False, "--json")) -> None:
    """The apps catalog with each app's active signing keys."""

    async def run() -> list[list[object]]:
        async with database(settings()) as db, db.platform_transaction() as tx:
            rows = await tx.fetch_all(
                """SELECT a.slug, a.name, a.status,
                          coalesce(string_agg(k.kid, ' ' ORDER BY k.created_at), '') AS keys
                     FROM tenantry.apps a
                     LEFT JOIN tenantry_private.app_signing_keys k
                       ON k.app_id = a.id AND k.retired_at IS NULL
                    GROUP BY a.id ORDER BY a.slug"""
            )
        return [list(r.values()) for r in rows]

    print_rows(
        ["slug", "name", "status", "signing keys (oldest first)"],
        asyncio.run(run()),
        as_json=as_json,
    )


@app.command("rotate-key")
def rotate_key(slug: str) -> None:
    """Add a signing key for an app; it signs from now on (after services reload their keys),
    and the older keys keep verifying until retired."""

    async def run() -> str:
        async with database(settings()) as db, db.platform_transaction() as tx:
            found = await apps_repo.get_by_slug(tx, slug)
            if found is None:
                raise NotFound(f"no app {slug!r}")
            return await keys.create_key(tx, found.id)

    kid = asyncio.run(run())
    console.print(f"{slug}: new signing key {kid}; retire the old one once its tokens have expired")


@app.command("retire-key")
def retire_key(kid: str) -> None:
    """Retire a signing key: tokens it signed stop verifying, and it leaves the JWKS."""

    async def run() -> None:
        async with database(settings()) as db, db.platform_transaction() as tx:
            row = await tx.fetch_one(
                """SELECT count(*) FILTER (WHERE k2.kid <> k.kid) AS others
                     FROM tenantry_private.app_signing_keys k
                     JOIN tenantry_private.app_signing_keys k2
                       ON k2.app_id = k.app_id AND k2.retired_at IS NULL
                    WHERE k.kid = %s AND k.retired_at IS NULL""",
                [kid],
            )
            if row is None or row["others"] is None:
                raise InvalidInput(f"no active key {kid}")
            if row["others"] == 0:
                raise InvalidInput(f"{kid} is its app's last active key; rotate first")
            await keys.retire_key(tx, kid)

    asyncio.run(run())
    console.print(f"retired {kid}")
