"""The `tenantry` command line."""

from __future__ import annotations

import sys

import psycopg
import pydantic
import typer

from tenantry.cli import admins, audit, citus, db, mail, ops, placements, serve, tenants
from tenantry.cli import apps as apps_cli
from tenantry.cli import client as client_cli
from tenantry.cli import events as events_cli
from tenantry.cli import flags as flags_cli
from tenantry.cli import licenses as licenses_cli
from tenantry.cli import pentest as pentest_cli
from tenantry.cli import secrets as secrets_cli
from tenantry.cli import sql as sql_cli
from tenantry.cli import worker as worker_cli
from tenantry.cli._common import err_console
from tenantry.kit.errors import TenantryError

app = typer.Typer(
    name="tenantry",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Tenantry: multi-tenant, multi-app platform core on PostgreSQL.",
)
app.add_typer(db.app, name="db")
app.command("sql")(sql_cli.sql_command)
app.command("audit-db")(audit.audit_db)
app.add_typer(audit.app, name="audit")
app.command("serve")(serve.serve)
app.add_typer(mail.app, name="mail")
app.add_typer(tenants.app, name="tenants")
app.add_typer(placements.app, name="placements")
app.add_typer(citus.app, name="citus")
app.add_typer(admins.app, name="admins")
app.add_typer(apps_cli.app, name="apps")
app.add_typer(licenses_cli.app, name="licenses")
app.add_typer(secrets_cli.app, name="secrets")
app.add_typer(events_cli.app, name="events")
app.add_typer(client_cli.app, name="client")
app.add_typer(flags_cli.settings_app, name="settings")
app.add_typer(flags_cli.flags_app, name="flags")
app.command("doctor")(ops.doctor_command)
app.command("worker")(worker_cli.worker_command)
app.command("pentest")(pentest_cli.pentest_command)
db.app.command("status")(ops.status_command)


def main() -> None:
    """Entry point: domain and database errors become one readable line and exit code 1."""
    try:
        app()
    except TenantryError as exc:
        _fail(exc.message)
    except psycopg.Error as exc:
        diag = getattr(exc, "diag", None)
        message = (diag.message_primary if diag else None) or str(exc).strip()
        sqlstate = f" [{exc.sqlstate}]" if exc.sqlstate else ""
        _fail(f"database error{sqlstate}: {message}")
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"invalid setting {'.'.join(map(str, first['loc']))}: {first['msg']}")


def _fail(message: str) -> None:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    sys.exit(1)
