"""`tenantry admins create`: bootstrap a platform administrator."""

from __future__ import annotations

import asyncio
import sys

import typer

from tenantry.apps import repository as apps_repo
from tenantry.cli._common import console, database, settings
from tenantry.identity import passwords
from tenantry.identity import repository as users
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import Conflict, NotFound
from tenantry.tenants import repository as tenants_repo

app = typer.Typer(no_args_is_help=True, help="Platform administrators.")


@app.command()
def create(
    email: str,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin."
    ),
) -> None:
    """Create a platform administrator (a user of the admin app in the operator tenant)."""
    config = settings()
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    passwords.check_policy(password, [email, config.platform_tenant])

    async def run() -> None:
        async with database(config) as db:
            async with db.platform_transaction() as tx:
                tenant = await tenants_repo.get_by_slug(tx, config.platform_tenant)
                if tenant is None:
                    tenant = await tenants_repo.create(
                        tx,
                        slug=config.platform_tenant,
                        name="Platform operators",
                        status="active",
                        plan="internal",
                    )
                admin_app = await apps_repo.get_by_slug(tx, "admin")
                if admin_app is None:
                    raise NotFound("the admin app is missing from the catalog")
                await tenants_repo.enable_app(tx, tenant.id, admin_app.id)
            async with db.tenant_transaction(TenantContext(tenant.id, admin_app.id)) as tx:
                if await users.get_by_email(tx, tenant.id, admin_app.id, email):
                    raise Conflict(f"{email} is already a platform administrator")
                await users.create(
                    tx,
                    tenant.id,
                    admin_app.id,
                    email,
                    "Platform admin",
                    password_hash=await passwords.hash_password(password),
                    email_verified=True,
                )

    asyncio.run(run())
    console.print(
        f"{email} can now sign in at /v1/apps/admin/auth/login with tenant {config.platform_tenant}"
    )
