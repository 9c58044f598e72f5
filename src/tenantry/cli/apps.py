"""`tenantry apps …`: the catalog, each app's token signing keys, the registry (publish
manifests, versions, gateway routes) and a tenant's apps (enable, disable, pin, config)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tenantry.cli._common import console, operator, print_rows, run
from tenantry.kit.errors import InvalidInput
from tenantry.registry.models import InvalidAppConfig, InvalidManifest
from tenantry.services import Services

if TYPE_CHECKING:
    from tenantry.registry.models import TenantApp

app = typer.Typer(
    no_args_is_help=True,
    help="Apps: signing keys, published versions, gateway routes and tenants' apps.",
)


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


# -- the registry: manifests, versions, routes ---------------------------------------------


def _read_json(path: Path, what: str) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        error = InvalidManifest if what == "manifest" else InvalidAppConfig
        raise error(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from exc


@app.command("publish")
def publish(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A manifest (JSON)."),
) -> None:
    """Publish an app version from its manifest (docs/app-manifest.md). Publishing the same
    manifest again changes nothing; a published version never changes."""
    document = _read_json(file, "manifest")
    published = run(lambda s: s.registry.publish(document, by=operator()))
    version = published.version
    console.print(
        f"{version.manifest['slug']} {version.version}: {published.outcome} "
        f"(sha256 {version.hash_hex}); latest is {published.latest_version}",
        highlight=False,
    )


@app.command("versions")
def versions(slug: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """An app's published versions, the highest first."""
    rows = [
        [v.version, v.min_platform_version, v.hash_hex, v.published_at, v.published_by]
        for v in run(lambda s: s.registry.versions(slug))
    ]
    print_rows(["version", "min platform", "sha256", "published", "by"], rows, as_json=as_json)


@app.command("show")
def show(
    slug: str,
    version: str | None = typer.Option(None, "--version", help="Default: the latest."),
) -> None:
    """An app version's manifest, as published."""
    found = run(lambda s: s.registry.version(slug, version))
    typer.echo(json.dumps(found.manifest, indent=2, sort_keys=True))
    typer.echo(f"# {slug} {found.version} sha256 {found.hash_hex}")


@app.command("route")
def route(
    slug: str,
    version: str,
    prefix: str,
    upstream: str,
    timeout_ms: int = typer.Option(10_000, "--timeout-ms", min=100, max=300_000),
) -> None:
    """Send the gateway's requests under PREFIX (declared by the version's manifest) for
    tenants on VERSION to UPSTREAM."""
    run(lambda s: s.registry.set_route(slug, version, prefix, upstream, timeout_ms))
    console.print(f"{slug} {version} {prefix} → {upstream} ({timeout_ms} ms)", highlight=False)


@app.command("unroute")
def unroute(slug: str, version: str, prefix: str) -> None:
    """Remove a gateway route."""
    run(lambda s: s.registry.delete_route(slug, version, prefix))
    console.print(f"{slug} {version} {prefix}: removed", highlight=False)


@app.command("routes")
def routes(slug: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """An app's gateway routes, per version."""
    rows = [
        [r.version, r.prefix, r.upstream, r.timeout_ms]
        for r in run(lambda s: s.registry.routes(slug))
    ]
    print_rows(["version", "prefix", "upstream", "timeout ms"], rows, as_json=as_json)


# -- a tenant's apps -------------------------------------------------------------------------

Reason = typer.Option(..., "--reason", help="Why, for the history and the audit log.")


def _report(changed: TenantApp) -> None:
    console.print(
        f"{changed.slug}: {changed.status}, version {changed.effective_version or '-'}"
        f" ({'pinned' if changed.pinned_version else 'following latest'}),"
        f" revision {changed.config_revision}",
        highlight=False,
    )


@app.command("enable")
def enable(tenant: str, slug: str, reason: str = Reason) -> None:
    """Enable an app for a tenant (a disabled one comes back with all of its data)."""
    _report(run(lambda s: s.tenant_apps.enable(tenant, slug, by=operator(), reason=reason)))


@app.command("disable")
def disable(tenant: str, slug: str, reason: str = Reason) -> None:
    """Disable an app for a tenant: its routes answer app_disabled; its data is kept."""
    _report(run(lambda s: s.tenant_apps.disable(tenant, slug, by=operator(), reason=reason)))


@app.command("pin")
def pin(
    tenant: str,
    slug: str,
    version: str = typer.Argument(..., help="A published version, or 'latest' to follow."),
    reason: str = Reason,
) -> None:
    """Pin a tenant to a version of an app, or follow the latest."""
    number = None if version == "latest" else version
    _report(run(lambda s: s.tenant_apps.pin(tenant, slug, number, by=operator(), reason=reason)))


@app.command("config")
def config(
    tenant: str,
    slug: str,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The config (JSON)."),
    reason: str = Reason,
) -> None:
    """Set a tenant's config of an app, checked against the effective version's schema."""
    value = _read_json(file, "config")
    _report(
        run(lambda s: s.tenant_apps.configure(tenant, slug, value, by=operator(), reason=reason))
    )


@app.command("tenant")
def tenant_apps(tenant: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A tenant's apps: status, pinned and effective version, config."""
    rows = [
        [
            a.slug,
            a.status,
            a.pinned_version or "",
            a.effective_version or "",
            json.dumps(a.config, sort_keys=True),
        ]
        for a in run(lambda s: s.tenant_apps.of_tenant(tenant))
    ]
    print_rows(["app", "status", "pinned", "effective", "config"], rows, as_json=as_json)
