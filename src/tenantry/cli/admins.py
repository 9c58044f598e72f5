"""`tenantry admins create`: bootstrap a platform administrator."""

from __future__ import annotations

import asyncio
import sys

import typer

from tenantry.cli._common import console, operator, run, settings
from tenantry.identity import passwords

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

    password_hash = asyncio.run(passwords.hash_password(password))
    run(lambda s: s.tenant_admin.add_platform_admin(email, password_hash, by=operator()))
    console.print(
        f"{email} can now sign in at /v1/apps/admin/auth/login with tenant {config.platform_tenant}"
    )
