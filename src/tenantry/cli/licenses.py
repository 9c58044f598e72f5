"""`tenantry licenses …`: licence-signing keys, issuing, importing, verifying, revoking,
and seat usage (docs/licences.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import typer

from tenantry.cli._common import console, operator, print_rows, run
from tenantry.kit.errors import InvalidInput
from tenantry.licensing.document import load_public_keys, verify_licence

if TYPE_CHECKING:
    from tenantry.licensing.models import StoredLicence
    from tenantry.services import Services

app = typer.Typer(no_args_is_help=True, help="Signed licences per tenant and app.")
keys_app = typer.Typer(no_args_is_help=True, help="Licence-signing keys (Ed25519).")
app.add_typer(keys_app, name="keys")

JsonOption = typer.Option(False, "--json", help="Machine-readable output.")


def _row(stored: StoredLicence) -> list[Any]:
    lic = stored.licence
    seats = "unlimited" if lic.seats is None else lic.seats
    return [
        lic.id,
        lic.tenant_slug,
        lic.app,
        lic.plan,
        seats,
        " ".join(lic.features),
        lic.valid_until.date(),
        stored.status,
        stored.source,
    ]


_COLUMNS = ["id", "tenant", "app", "plan", "seats", "features", "valid until", "status", "source"]


@keys_app.command("rotate")
def rotate_key() -> None:
    """Create a signing key: it signs every licence issued from now on; licences signed by
    older keys keep verifying until those keys are retired."""
    kid = run(lambda s: s.licences.keys.rotate())
    console.print(f"new licence-signing key {kid}")


@keys_app.command("list")
def list_keys(as_json: bool = JsonOption) -> None:
    """Every licence-signing key (public halves only)."""
    keys = run(lambda s: s.licences.keys.all())
    rows = [[k.kid, k.created_at, k.retired_at] for k in keys]
    print_rows(["kid", "created_at", "retired_at"], rows, as_json=as_json)


@keys_app.command("retire")
def retire_key(kid: str) -> None:
    """Retire a key: licences it signed stop verifying."""
    run(lambda s: s.licences.keys.retire(kid))
    console.print(f"retired {kid}")


@keys_app.command("export-public")
def export_public() -> None:
    """The public keys as JSON, for verifiers without database access (`verify --keys`)."""
    sys.stdout.write(run(lambda s: s.licences.keys.export_public()).decode())


@app.command("issue")
def issue(
    tenant: str,
    app_slug: str = typer.Argument(..., metavar="APP"),
    plan: str = typer.Option(..., "--plan"),
    seats: int | None = typer.Option(None, "--seats", min=0, help="Omit for unlimited."),
    feature: list[str] = typer.Option([], "--feature", help="Repeat for each feature."),
    limit: list[str] = typer.Option([], "--limit", help="name=N; repeat for each limit."),
    days: int = typer.Option(365, "--days"),
    grace_days: int = typer.Option(14, "--grace-days"),
    out: Path | None = typer.Option(None, "--out", help="Write the licence file here."),
) -> None:
    """Issue a signed licence for a tenant's app; it becomes the tenant's entitlement."""
    limits = _limits(limit)

    async def work(s: Services) -> StoredLicence:
        await s.apps.reload()
        return await s.licences.issue(
            tenant,
            app_slug,
            plan=plan,
            seats=seats,
            features=feature,
            limits=limits,
            days=days,
            grace_days=grace_days,
            by=operator(),
        )

    stored = run(work)
    if out is not None:
        out.write_bytes(stored.document)
    console.print(f"issued licence {stored.licence.id} (signed by {stored.licence.kid})")


@app.command("import")
def import_licence(file: Path) -> None:
    """Activate a licence file issued elsewhere (air-gapped installs): it must verify against
    this installation's keys and name one of its tenants and an app that tenant has."""
    data = _read(file)

    async def work(s: Services) -> StoredLicence:
        await s.apps.reload()
        return await s.licences.import_file(data, operator())

    stored = run(work)
    lic = stored.licence
    console.print(f"imported licence {lic.id} for {lic.tenant_slug}/{lic.app}")


@app.command("verify")
def verify(
    file: Path,
    keys: Path | None = typer.Option(
        None, "--keys", help="Public keys from `keys export-public` (no database needed)."
    ),
) -> None:
    """Check a licence file's signature and validity; exit 1 when it does not verify."""
    data = _read(file)
    if keys is not None:
        public = load_public_keys(_read(keys))
    else:
        public = run(lambda s: s.licences.keys.public_keys())
    lic = verify_licence(data, public)
    seats = "unlimited" if lic.seats is None else lic.seats
    console.print(
        f"valid: licence {lic.id} for {lic.tenant_slug}/{lic.app}, plan {lic.plan}, "
        f"{seats} seats, until {lic.valid_until.isoformat()} (+{lic.grace_days} days grace), "
        f"key {lic.kid}",
        soft_wrap=True,
    )


@app.command("revoke")
def revoke(
    licence_id: UUID, reason: str = typer.Option(..., "--reason", "-r", help="Why.")
) -> None:
    """Revoke a licence; if it is the tenant's current one, the app is blocked for the tenant."""
    run(lambda s: s.licences.revoke(licence_id, reason, operator()))
    console.print(f"revoked {licence_id}")


@app.command("list")
def list_licences(tenant: str | None = typer.Argument(None), as_json: bool = JsonOption) -> None:
    """Licences, newest first, of one tenant or all."""
    found = run(lambda s: s.licences.listing(tenant))
    print_rows(_COLUMNS, [_row(s) for s in found], as_json=as_json)


@app.command("show")
def show(licence_id: UUID) -> None:
    """One licence's file (JSON)."""
    sys.stdout.write(run(lambda s: s.licences.show(licence_id)).document.decode())


@app.command("download")
def download(licence_id: UUID, out: Path = typer.Option(..., "--out")) -> None:
    """Write a licence's file."""
    out.write_bytes(run(lambda s: s.licences.show(licence_id)).document)
    console.print(f"wrote {out}")


@app.command("usage")
def usage(tenant: str | None = typer.Argument(None), as_json: bool = JsonOption) -> None:
    """Seats used per tenant and app (active identities plus open invitations)."""
    found = run(lambda s: s.licences.usage(tenant))
    rows = [
        [u.tenant, u.app, u.plan, u.used, "unlimited" if u.seats is None else u.seats, u.state]
        for u in found
    ]
    print_rows(["tenant", "app", "plan", "used", "seats", "state"], rows, as_json=as_json)


def _limits(pairs: list[str]) -> dict[str, int]:
    limits: dict[str, int] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if not name or not value.strip().isdigit():
            raise InvalidInput(f"--limit takes name=N, not {pair!r}")
        limits[name.strip()] = int(value)
    return limits


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from exc
