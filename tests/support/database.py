"""Test databases: one migrated template per run, one clone per xdist worker.

Tests talk to a real PostgreSQL: the embedded server under `.tenantry/test-pgdata` by default,
or any server given by `TENANTRY_TEST_DATABASE_URL` (a superuser URL; throw-away databases are
created on it). Roles use the `tenantry_test` prefix so a developer's install is never touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fasteners
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from tenantry.isolation.roles import Roles
from tenantry.kit import embedded, migrate
from tenantry.kit.context import ContextSigner
from tenantry.kit.db import Database
from tenantry.kit.dsn import as_role, with_database
from tests.support import pgbouncer

ROLES = Roles("tenantry_test")
# Database names; set TENANTRY_TEST_RUN to run two suites side by side on one server.
RUN = os.environ.get("TENANTRY_TEST_RUN", "tenantry_test")
TEMPLATE = f"{RUN}_template"
ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / ".tenantry" / "test-clone.lock"
# Set by the controlling process for its xdist workers.
SERVER_URL = "TENANTRY_TEST_SERVER_URL"


def server_url() -> str:
    url = os.environ.get("TENANTRY_TEST_DATABASE_URL")
    if url:
        return url
    return embedded.running_url(ROOT / ".tenantry" / "test-pgdata") or embedded.start(
        ROOT / ".tenantry" / "test-pgdata"
    )


def recreate_database(server: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(create)
    return with_database(server, name)


def build_template() -> Path | None:
    """The migrated template every worker clones; built once per run. With
    `TENANTRY_TEST_PGBOUNCER=1`, also starts PgBouncer (its folder is returned, to stop it)."""
    server = server_url()
    os.environ[SERVER_URL] = server
    LOCK.parent.mkdir(exist_ok=True)
    with fasteners.InterProcessLock(str(LOCK)):
        migrate.upgrade(recreate_database(server, TEMPLATE), ROLES)
    if not pgbouncer.ENABLED:
        return None
    address, folder = pgbouncer.start(server, [ROLES.runtime, ROLES.platform])
    os.environ[pgbouncer.ADDRESS] = address
    return folder


@dataclass(frozen=True)
class Urls:
    admin: str
    runtime: str
    platform: str
    # Runtime and platform through PgBouncer in transaction mode; `direct_platform` is the
    # platform role's own connection to the server (for LISTEN).
    pooled: bool = False
    direct_platform: str = ""

    def through(self, address: str) -> Urls:
        """The runtime and platform roles through the PgBouncer at `address`."""
        return Urls(
            self.admin,
            pgbouncer.through(self.runtime, address),
            pgbouncer.through(self.platform, address),
            pooled=True,
            direct_platform=self.platform,
        )

    def database(self, *, min_size: int = 1, max_size: int = 4) -> Database:
        """A `Database` on these URLs, configured as the service configures it."""
        return Database(
            self.runtime,
            self.platform,
            min_size=min_size,
            max_size=max_size,
            prepared_statements=not self.pooled,
        )


def clone(name: str) -> Urls:
    # Roles are cluster-wide: workers that alter them at once collide ("tuple concurrently
    # updated"), so clones are prepared one at a time.
    LOCK.parent.mkdir(exist_ok=True)
    with fasteners.InterProcessLock(str(LOCK)):
        admin = recreate_database(os.environ[SERVER_URL], name, TEMPLATE)
        # Database-level grants and per-database role settings are not copied from a template.
        migrate.upgrade(admin, ROLES)
    urls = Urls(admin, as_role(admin, ROLES.runtime), as_role(admin, ROLES.platform))
    address = os.environ.get(pgbouncer.ADDRESS)
    return urls if address is None else urls.through(address)


def drop_database(name: str) -> None:
    with psycopg.connect(os.environ[SERVER_URL], autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def signer_for(admin_url: str, ttl: int = 300) -> ContextSigner:
    with psycopg.connect(admin_url) as conn:
        return ContextSigner(migrate.read_signing_key(conn), ttl)


@contextmanager
def audit_log_unguarded(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """What an attacker with superuser access does: the audit log's triggers off (they fire
    even for a replica session), rows rewritten, the triggers back as they were."""
    triggers = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            "SELECT tgname, tgenabled FROM pg_trigger"
            " WHERE tgrelid = 'tenantry.audit_log'::regclass AND NOT tgisinternal"
        )
        .fetchall()
    )
    conn.execute("ALTER TABLE tenantry.audit_log DISABLE TRIGGER USER")
    yield
    modes = {"A": "ENABLE ALWAYS", "R": "ENABLE REPLICA", "O": "ENABLE", "D": "DISABLE"}
    for name, state in triggers:
        conn.execute(
            sql.SQL("ALTER TABLE tenantry.audit_log {} TRIGGER {}").format(
                sql.SQL(modes[state]), sql.Identifier(name)
            )
        )
