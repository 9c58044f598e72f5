"""`tenantry settings …` and `tenantry flags …`: tenant configuration from a terminal."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import typer

from tenantry.cli._common import console, operator, print_rows, run

settings_app = typer.Typer(no_args_is_help=True, help="Typed tenant settings and their history.")
flags_app = typer.Typer(no_args_is_help=True, help="Feature flags, per-tenant overrides, versions.")

ReasonOption = typer.Option(..., "--reason", "-r", help="Why (kept in the history).")
AppOption = typer.Option(None, "--app", help="Only for this app of the tenant.")


def _value(raw: str) -> Any:  # noqa: ANN401 - JSON text, or a bare string
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw


@settings_app.command("show")
def settings_show(tenant: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Effective settings (plan defaults and the tenant's own values)."""
    values = run(lambda s: s.settings_admin.effective(tenant))
    if as_json:
        typer.echo(json.dumps(values))
        return
    print_rows(
        ["setting", "value"], [[k, json.dumps(v)] for k, v in sorted(values.items())], as_json=False
    )


@settings_app.command("set")
def settings_set(tenant: str, key: str, value: str, reason: str = ReasonOption) -> None:
    """Set one setting; VALUE is JSON (`42`, `true`, `"text"`) or a bare string."""
    stored = run(
        lambda s: s.settings_admin.set(tenant, key, _value(value), by=operator(), reason=reason)
    )
    console.print(f"{tenant}: {key} = {json.dumps(stored)}")


@settings_app.command("history")
def settings_history(
    tenant: str,
    key: str | None = typer.Argument(None),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Who changed which setting, when and why."""
    rows = run(lambda s: s.settings_admin.history(tenant, key))
    columns = ["created_at", "key", "old_value", "new_value", "actor", "reason"]
    print_rows(columns, [[r[c] for c in columns] for r in rows], as_json=as_json)


@flags_app.command("list")
def flags_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """The flag catalog."""
    flags = run(lambda s: s.flags.all())
    columns = ["key", "type", "default_value", "status", "owner", "version"]
    print_rows(columns, [[getattr(f, c) for c in columns] for f in flags], as_json=as_json)


@flags_app.command("define")
def flags_define(
    key: str,
    flag_type: str = typer.Option(..., "--type", help="boolean, string, number or json."),
    default: str = typer.Option(..., help="JSON default value."),
    description: str = typer.Option(""),
    owner: str = typer.Option(""),
    reason: str = ReasonOption,
) -> None:
    """Add a flag to the catalog."""
    flag = run(
        lambda s: s.flags.define(
            key,
            flag_type,
            _value(default),
            description=description,
            owner=owner,
            by=operator(),
            reason=reason,
        )
    )
    console.print(f"{flag.key} defined (v{flag.version})")


@flags_app.command("deprecate")
def flags_deprecate(key: str, reason: str = ReasonOption) -> None:
    """Mark a flag deprecated; its use is then counted per tenant (`tenantry flags usage`)."""
    flag = run(lambda s: s.flags.update(key, by=operator(), reason=reason, status="deprecated"))
    console.print(f"{flag.key} deprecated (v{flag.version})")


@flags_app.command("override")
def flags_override(
    tenant: str,
    key: str,
    value: str,
    app: str | None = AppOption,
    rollout: int | None = typer.Option(
        None, min=0, max=100, help="Percentage of tenants (by a stable hash)."
    ),
    reason: str = ReasonOption,
) -> None:
    """Override a flag for a tenant (optionally one app, optionally a percentage rollout)."""
    version = run(
        lambda s: s.flags.set_override(
            tenant,
            key,
            _value(value),
            app_slug=app,
            rollout_percent=rollout,
            by=operator(),
            reason=reason,
        )
    )
    console.print(f"{tenant}: {key} overridden (v{version})")


@flags_app.command("remove")
def flags_remove(
    tenant: str, key: str, app: str | None = AppOption, reason: str = ReasonOption
) -> None:
    """Remove a tenant's override (a new version records it)."""
    version = run(
        lambda s: s.flags.remove_override(tenant, key, app_slug=app, by=operator(), reason=reason)
    )
    console.print(f"{tenant}: {key} override removed (v{version})")


@flags_app.command("versions")
def flags_versions(
    tenant: str,
    key: str,
    app: str | None = AppOption,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every version of a tenant's override, newest first."""
    versions = run(lambda s: s.flags.versions(tenant, key, app_slug=app))
    columns = ["version", "value", "rollout_percent", "removed", "actor", "reason", "created_at"]
    print_rows(columns, [[asdict(v)[c] for c in columns] for v in versions], as_json=as_json)


@flags_app.command("rollback")
def flags_rollback(
    tenant: str, key: str, version: int, app: str | None = AppOption, reason: str = ReasonOption
) -> None:
    """Make the override what it was at VERSION (as a new version)."""
    new = run(
        lambda s: s.flags.rollback(tenant, key, version, app_slug=app, by=operator(), reason=reason)
    )
    console.print(f"{tenant}: {key} rolled back to v{version} (now v{new})")


@flags_app.command("usage")
def flags_usage(as_json: bool = typer.Option(False, "--json")) -> None:
    """Which tenants still use deprecated flags and endpoints."""
    rows = run(lambda s: s.flags.deprecations())
    columns = ["tenant", "kind", "name", "app_slug", "uses", "last_used_at"]
    print_rows(columns, [[r[c] for c in columns] for r in rows], as_json=as_json)
