"""`tenantry db upgrade`: roles, database privileges, Alembic migrations and the context key."""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tenantry.isolation.roles import (
    Roles,
    create_role_statements,
    database_statements,
    lock_statement_stats,
)
from tenantry.kit.context import ContextKey, hmac_pads
from tenantry.kit.dsn import database_name
from tenantry.kit.errors import ConfigurationError, InvalidInput
from tenantry.kit.modules import Module, installed_modules

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Connection

    from tenantry.kit.db import Transaction

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True, slots=True)
class UpgradeReport:
    database: str
    applied: tuple[str, ...]
    warnings: tuple[str, ...]


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def ensure_database(server_url: str, name: str) -> bool:
    """Create database `name` on the server if missing; True when it was created."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def prepare_roles(
    url: str, roles: Roles, *, runtime_password: str = "", platform_password: str = ""
) -> list[str]:
    """Create the roles and lock the database down. Returns warnings for what it could not do."""
    warnings: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        is_superuser, citus = conn.execute(
            "SELECT rolsuper, EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')"
            " FROM pg_roles WHERE rolname = current_user"
        ).fetchone() or (False, False)
        for role_statement in create_role_statements(
            roles,
            runtime_password=runtime_password or None,
            platform_password=platform_password or None,
            owner_login=bool(citus),
        ):
            conn.execute(role_statement)
        if not is_superuser:
            # Without superuser the migrating login must be a member of the owner role.
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(roles.owner)))
        for statement in database_statements(roles, database_name(url)):
            try:
                conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege as exc:
                warnings.append(f"{statement.as_string(conn)}: {exc.diag.message_primary}")
        for schema in ("tenantry", "tenantry_private"):
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                    sql.Identifier(schema), sql.Identifier(roles.owner)
                )
            )
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA tenantry_private FROM PUBLIC"))
        if is_superuser:
            lock_statement_stats(conn, roles)
            _vector_extension(conn)
            # Tenant moves copy rows as they were (`replica`); the guards fire ALWAYS.
            grant = "GRANT SET ON PARAMETER session_replication_role TO {}"
            conn.execute(sql.SQL(grant).format(sql.Identifier(roles.platform)))
    return warnings


def _vector_extension(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Install pgvector where the server ships it (the embedded one does). It is not a trusted
    extension, so only a superuser may create it; the migrations, which run as the owner role,
    use it when it is there (the knowledge workload's embeddings) and do without it elsewhere."""
    row = conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
    if (row.fetchone() or (0,))[0]:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")


def sqlalchemy_url(url: str) -> str:
    if "://" in url:
        return str(make_url(url).set(drivername="postgresql+psycopg"))
    # key=value conninfo: hand it to psycopg unchanged through the query string.
    return "postgresql+psycopg:///?" + "&".join(
        f"{k}={v}" for k, v in psycopg.conninfo.conninfo_to_dict(url).items()
    )


@contextmanager
def owner_transaction(url: str, roles: Roles) -> Iterator[Connection]:
    """One SQLAlchemy transaction on `url` acting as the owner role, committed when the block
    ends: migrations (Tenantry's and installed modules') run in it."""
    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'SET LOCAL ROLE "{roles.owner}"')
            yield connection
    finally:
        engine.dispose()


@contextmanager
def _alembic(url: str, roles: Roles) -> Iterator[tuple[Any, Config]]:
    """One transaction as the owner role, and an Alembic config that runs on it."""
    with owner_transaction(url, roles) as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        config.attributes["roles"] = roles
        yield connection, config


def upgrade(
    url: str,
    roles: Roles,
    *,
    runtime_password: str = "",
    platform_password: str = "",
    revision: str = "head",
) -> UpgradeReport:
    warnings = prepare_roles(
        url, roles, runtime_password=runtime_password, platform_password=platform_password
    )
    with _alembic(url, roles) as (connection, config):
        before = _current(connection)
        command.upgrade(config, revision)
        applied = _between(before, _current(connection))
        if applied and _has_migration_log(connection):
            for applied_revision in applied:
                connection.exec_driver_sql(
                    "INSERT INTO tenantry_private.migration_log (revision) VALUES (%s)",
                    (applied_revision,),
                )
        for module in (m for m in installed_modules() if m.migrations is not None):
            applied += tuple(
                f"{module.name}:{r}" for r in upgrade_module(connection, roles, module)
            )
        ensure_context_key(connection.connection.driver_connection)
    return UpgradeReport(
        database=database_name(url),
        applied=applied,
        warnings=tuple(warnings),
    )


def downgrade(url: str, roles: Roles, revision: str, *, modules: bool = False) -> tuple[str, ...]:
    """Revert to `revision`; returns the revisions undone, newest first.

    Installed modules' tables stand on the current schema (Tenantry's revisions regenerate the
    policies of every registered table), so while a module is applied this refuses, unless
    `modules` reverts every module first (dropping their tables; `upgrade` restores them)."""
    with _alembic(url, roles) as (connection, config):
        applied = [m for m in installed_modules() if m.migrations and _module_heads(connection, m)]
        if applied and not modules:
            names = ", ".join(m.name for m in applied)
            raise InvalidInput(
                f"installed modules are applied ({names}) and stand on this schema: pass "
                "--modules to revert them first (their tables are dropped; `tenantry db "
                "upgrade` brings them back)"
            )
        undone: tuple[str, ...] = ()
        for module in applied:
            undone += tuple(
                f"{module.name}:{r}" for r in downgrade_module(connection, roles, module)
            )
        before = _current(connection)
        command.downgrade(config, revision)
        return undone + tuple(reversed(_between(_current(connection), before)))


def module_config(module: Module, connection: Connection, roles: Roles) -> Config:
    assert module.migrations is not None
    config = Config()
    config.set_main_option("script_location", str(module.migrations))
    config.attributes.update(connection=connection, roles=roles, module=module)
    return config


def upgrade_module(
    connection: Connection, roles: Roles, module: Module, revision: str = "heads"
) -> tuple[str, ...]:
    """Run a module's migrations on `connection` (the owner's transaction); the revisions
    applied, oldest first."""
    config = module_config(module, connection, roles)
    script = ScriptDirectory.from_config(config)
    before = _module_heads(connection, module)
    command.upgrade(config, revision)
    after = _module_heads(connection, module)
    had = _ancestry(script, before)
    # Parents before children: the order Alembic applied them in.
    return tuple(
        r.revision
        for r in reversed(list(script.iterate_revisions(tuple(after), "base")))
        if r.revision not in had
    )


def _ancestry(script: ScriptDirectory, heads: set[str]) -> set[str]:
    """`heads` and every revision below them."""
    return {r.revision for r in script.iterate_revisions(tuple(heads), "base")} if heads else set()


def downgrade_module(
    connection: Connection, roles: Roles, module: Module, revision: str = "base"
) -> tuple[str, ...]:
    """Revert a module's migrations to `revision` on `connection` (the owner's transaction);
    the revisions undone, newest first."""
    config = module_config(module, connection, roles)
    script = ScriptDirectory.from_config(config)
    before = _module_heads(connection, module)
    command.downgrade(config, revision)
    kept = _ancestry(script, _module_heads(connection, module))
    return tuple(
        r.revision
        for r in script.iterate_revisions(tuple(before), "base")
        if r.revision not in kept
    )


def _module_heads(connection: Connection, module: Module) -> set[str]:
    context = MigrationContext.configure(
        connection,
        opts={"version_table_schema": "tenantry_private", "version_table": module.version_table},
    )
    return set(context.get_current_heads())


def _has_migration_log(connection: Connection) -> bool:
    row = connection.exec_driver_sql(
        "SELECT to_regclass('tenantry_private.migration_log') IS NOT NULL"
    ).fetchone()
    return bool(row and row[0])


def _current(connection: Connection) -> str | None:
    context = MigrationContext.configure(
        connection,
        opts={"version_table_schema": "tenantry_private"},
    )
    return context.get_current_revision()


def _between(before: str | None, after: str | None) -> tuple[str, ...]:
    if before == after or after is None:
        return ()
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in script.iterate_revisions(after, before)]
    return tuple(reversed(revisions))


def read_signing_key(conn: psycopg.Connection[Any]) -> ContextKey:
    """The key new contexts are signed with (for tools that sign outside a service)."""
    row = conn.execute("SELECT kid, secret FROM tenantry_private.signing_key()").fetchone()
    if row is None or row[0] is None:
        raise ConfigurationError("no context-signing key: run `tenantry db upgrade`")
    return ContextKey(row[0], bytes(row[1]))


def ensure_context_key(conn: psycopg.Connection[tuple[object, ...]]) -> str | None:
    """Create the first context-signing key when none is active; returns its kid if created."""
    active = "SELECT 1 FROM tenantry_private.context_keys WHERE retired_at IS NULL"
    if conn.execute(active).fetchone():
        return None
    return add_context_key(conn)


def add_context_key(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    """Add a new signing key. Older keys keep verifying until retired."""
    secret = secrets.token_bytes(32)
    inner, outer = hmac_pads(secret)
    kid = "k" + secrets.token_hex(6)
    conn.execute(
        "INSERT INTO tenantry_private.context_keys (kid, secret, inner_pad, outer_pad) "
        "VALUES (%s, %s, %s, %s)",
        [kid, secret, inner, outer],
    )
    return kid


def owner_connection(admin_url: str, roles: Roles) -> psycopg.Connection[tuple[object, ...]]:
    """A connection acting as the schema owner (key rotation writes owner-only tables)."""
    conn = psycopg.connect(admin_url)
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(roles.owner)))
    return conn


async def owner_connection_async(
    admin_url: str, roles: Roles
) -> psycopg.AsyncConnection[tuple[object, ...]]:
    """The same, asynchronous and in autocommit (for DDL such as CREATE INDEX CONCURRENTLY)."""
    conn = await psycopg.AsyncConnection.connect(admin_url, autocommit=True)
    await conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(roles.owner)))
    return conn


def retire_context_key(conn: psycopg.Connection[tuple[object, ...]], kid: str) -> None:
    """Retire a signing key: contexts it signed stop verifying at once. The last active key
    cannot go (nothing could be signed any more)."""
    remaining = conn.execute(
        "SELECT count(*) FROM tenantry_private.context_keys WHERE retired_at IS NULL AND kid <> %s",
        [kid],
    ).fetchone()
    if not remaining or remaining[0] == 0:
        raise InvalidInput(f"{kid} is the last active key; rotate first")
    cur = conn.execute(
        "UPDATE tenantry_private.context_keys SET retired_at = now() "
        "WHERE kid = %s AND retired_at IS NULL",
        [kid],
    )
    if cur.rowcount == 0:
        raise InvalidInput(f"no active key {kid}")


def applied_revisions(
    conn: psycopg.Connection[tuple[object, ...]],
) -> tuple[str | None, dict[str, object]]:
    """The database's current revision, and when each revision was last applied."""
    found = conn.execute(
        "SELECT to_regclass('tenantry_private.alembic_version') IS NOT NULL,"
        " to_regclass('tenantry_private.migration_log') IS NOT NULL"
    ).fetchone()
    versioned, logged = found or (False, False)
    current = None
    if versioned:
        row = conn.execute("SELECT version_num FROM tenantry_private.alembic_version").fetchone()
        current = str(row[0]) if row else None
    applied_at: dict[str, object] = {}
    if logged:
        rows = conn.execute(
            "SELECT revision, max(applied_at) FROM tenantry_private.migration_log GROUP BY revision"
        ).fetchall()
        applied_at = {str(revision): at for revision, at in rows}
    return current, applied_at


def module_revisions(
    conn: psycopg.Connection[tuple[object, ...]], module: Module
) -> list[tuple[str, str, bool]]:
    """Each of a module's revisions, oldest first: (id, first line of its description, applied)."""
    assert module.migrations is not None
    config = Config()
    config.set_main_option("script_location", str(module.migrations))
    script = ScriptDirectory.from_config(config)
    table = f"tenantry_private.{module.version_table}"
    present = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table]).fetchone()
    heads: list[str] = []
    if present and present[0]:
        query = sql.SQL("SELECT version_num FROM {}").format(sql.SQL(table))
        heads = [str(row[0]) for row in conn.execute(query)]
    applied = (
        {r.revision for r in script.iterate_revisions(tuple(heads), "base")} if heads else set()
    )
    return [
        (r.revision, (r.doc or "").splitlines()[0], r.revision in applied)
        for r in reversed(list(script.walk_revisions()))
    ]


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(tx: Transaction) -> str | None:
    row = await tx.fetch_one("SELECT tenantry.schema_revision() AS revision")
    return None if row is None else row["revision"]
