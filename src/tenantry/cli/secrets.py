"""`tenantry secrets …`: the master key, rewrapping, and a tenant app's secrets. Values are
read from standard input (never from the command line, where `ps` shows them) and printed
only by `get`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from tenantry.cli._common import console, err_console, operator, print_rows, run, settings
from tenantry.kit.errors import ConfigurationError, InvalidInput, NotFound
from tenantry.secrets.keys import (
    KEY_VARIABLE,
    append_key,
    key_file,
    write_new_key_file,
)

if TYPE_CHECKING:
    from tenantry.services import Services

app = typer.Typer(no_args_is_help=True, help="Envelope-encrypted secrets per tenant and app.")
JsonOption = typer.Option(False, "--json", help="Machine-readable output.")
ReasonOption = typer.Option(..., "--reason", help="Why (recorded in the access log).")
PRINCIPAL = "operator"


@app.command("init-master")
def init_master() -> None:
    """Create the master key file (32 random bytes, base64, mode 0600): the one named by
    TENANTRY_MASTER_KEY_FILE, or the development one under the data directory."""
    path = key_file(settings().data_dir)
    if path is None:
        raise ConfigurationError(f"{KEY_VARIABLE} is set: the master key comes from it, no file")
    try:
        write_new_key_file(path)
    except FileExistsError as exc:
        raise ConfigurationError(f"{path} exists already (rotate with rotate-master)") from exc
    console.print(f"master key written to {path}")


@app.command("rotate-master")
def rotate_master(
    rewrap_only: bool = typer.Option(
        False,
        "--rewrap-only",
        help="Add no key: rewrap under the newest key already configured (e.g. one added to "
        f"{KEY_VARIABLE}).",
    ),
) -> None:
    """Add a new master key version to the key file and rewrap every tenant's data keys under
    it. No secret value is read or rewritten; the older key versions stay in the file until no
    data key needs them."""
    path = key_file(settings().data_dir)
    if not rewrap_only:
        if path is None:
            raise ConfigurationError(
                f"the master keys come from {KEY_VARIABLE}: add the new key there (newest "
                "last), then run rotate-master --rewrap-only"
            )
        if not path.exists():
            raise ConfigurationError(f"no key file at {path} (create it with init-master)")
        append_key(path)
    report = run(lambda s: s.secrets.rewrap_all())
    current = run(_current_key_id)
    console.print(f"{report.rewrapped} data key(s) rewrapped under master key {current}")
    if report.not_loaded:
        missing = ", ".join(f"{k} ({n})" for k, n in sorted(report.not_loaded.items()))
        err_console.print(f"data keys under master keys that are not loaded: {missing}")
        raise typer.Exit(1)


async def _current_key_id(services: Services) -> str:
    return services.secrets.box.kek.current_id


@app.command("rotate-data-key")
def rotate_data_key(tenant: str) -> None:
    """Give the tenant a new data key: new values use it, older versions keep theirs."""
    version = run(lambda s: s.secrets.rotate_data_key(tenant, operator()))
    console.print(f"tenant {tenant}: data key version {version}")


@app.command("status")
def status(tenant: str | None = typer.Option(None, "--tenant"), as_json: bool = JsonOption) -> None:
    """Which master key wraps each data key (rotation progress)."""

    async def work(services: Services) -> list[list[object]]:
        tenant_id = None
        if tenant is not None:
            found = await services.tenants.by_slug(tenant)
            if found is None:
                raise NotFound(f"no tenant {tenant!r}")
            tenant_id = found.id
        keys = await services.secrets.data_keys(tenant_id)
        return [
            [k.tenant_id, k.version, k.master_key_id, k.created_at, k.rewrapped_at, k.retired_at]
            for k in keys
        ]

    rows = run(work)
    columns = ["tenant_id", "version", "master_key_id", "created_at", "rewrapped_at", "retired"]
    print_rows(columns, rows, as_json=as_json)


@app.command("list")
def list_secrets(
    tenant: str = typer.Option(..., "--tenant"),
    app_slug: str = typer.Option(..., "--app"),
    as_json: bool = JsonOption,
) -> None:
    """The app's secrets: names, versions and status, never a value."""

    async def work(services: Services) -> list[list[object]]:
        found = await services.secrets.metadata(await services.secrets.scope(tenant, app_slug))
        return [[s.name, s.current_version, s.versions, s.status, s.rotated_at] for s in found]

    rows = run(work)
    print_rows(["name", "version", "versions", "status", "rotated_at"], rows, as_json=as_json)


@app.command("set")
def set_secret(
    name: str,
    tenant: str = typer.Option(..., "--tenant"),
    app_slug: str = typer.Option(..., "--app"),
    reason: str = ReasonOption,
) -> None:
    """A new version of NAME, its value read from standard input (a trailing newline is
    dropped)."""
    value = sys.stdin.buffer.read().removesuffix(b"\n")
    if not value:
        raise InvalidInput("no value on standard input")

    async def work(services: Services) -> int:
        scope = await services.secrets.scope(tenant, app_slug)
        stored = await services.secrets.put(
            scope, name, value, by=operator(), principal=PRINCIPAL, reason=reason
        )
        return stored.current_version

    console.print(f"{name}: version {run(work)}")


@app.command("get")
def get_secret(
    name: str,
    tenant: str = typer.Option(..., "--tenant"),
    app_slug: str = typer.Option(..., "--app"),
    reason: str = ReasonOption,
    version: int | None = typer.Option(None, "--version", min=1),
) -> None:
    """Print the value of NAME (the read is recorded in the access log with the reason)."""

    async def work(services: Services) -> bytes:
        scope = await services.secrets.scope(tenant, app_slug)
        _, _, value = await services.secrets.reveal(
            scope, name, by=operator(), principal=PRINCIPAL, reason=reason, version=version
        )
        return value

    sys.stdout.buffer.write(run(work) + b"\n")
