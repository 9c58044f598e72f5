"""The three database roles and the statements that create and constrain them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True, slots=True)
class Roles:
    """Role names derive from one prefix so two installs can share a cluster."""

    prefix: str = "tenantry"

    @property
    def owner(self) -> str:
        return f"{self.prefix}_owner"

    @property
    def runtime(self) -> str:
        return f"{self.prefix}_runtime"

    @property
    def platform(self) -> str:
        return f"{self.prefix}_platform"


def create_role_statements(
    roles: Roles,
    *,
    runtime_password: str | None,
    platform_password: str | None,
    owner_login: bool = False,
) -> list[sql.Composed]:
    """Statements that create missing roles and (re)assert their attributes. Idempotent.

    `owner_login`: on a Citus coordinator, which sends the owner's DDL to the workers over
    connections it opens as the owner; nothing else logs in as it."""
    statements: list[sql.Composed] = []
    specs = (
        (roles.owner, "LOGIN" if owner_login else "NOLOGIN", None),
        (roles.runtime, "LOGIN", runtime_password),
        (roles.platform, "LOGIN", platform_password),
    )
    for name, login, password in specs:
        role = sql.Identifier(name)
        statements.append(
            sql.SQL(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) "
                "THEN CREATE ROLE {role}; END IF; END $$"
            ).format(name=sql.Literal(name), role=role)
        )
        statements.append(
            sql.SQL(
                "ALTER ROLE {role} " + login + " NOSUPERUSER NOBYPASSRLS NOCREATEDB "
                "NOCREATEROLE NOREPLICATION INHERIT"
            ).format(role=role)
        )
        if password:
            statements.append(
                sql.SQL("ALTER ROLE {role} PASSWORD {pw}").format(
                    role=role, pw=sql.Literal(password)
                )
            )
    return statements


def database_statements(roles: Roles, database: str) -> list[sql.SQL | sql.Composed]:
    """Database-wide privileges: only our roles connect, nobody but the owner creates objects.

    `track_activities = off` hides every runtime backend's query text from the other runtime
    backends (all tenants share the role, and a role reads its own sessions' SQL text in
    `pg_stat_activity`). It is superuser-only to change, so the runtime cannot turn it back on.
    """
    db = sql.Identifier(database)
    runtime = sql.Identifier(roles.runtime)
    platform = sql.Identifier(roles.platform)
    owner = sql.Identifier(roles.owner)
    return [
        sql.SQL("REVOKE ALL ON DATABASE {db} FROM PUBLIC").format(db=db),
        sql.SQL("GRANT CONNECT ON DATABASE {db} TO {runtime}, {platform}").format(
            db=db, runtime=runtime, platform=platform
        ),
        sql.SQL("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {db} TO {owner}").format(
            db=db, owner=owner
        ),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
        sql.SQL("ALTER ROLE {runtime} IN DATABASE {db} SET search_path = tenantry, public").format(
            runtime=runtime, db=db
        ),
        sql.SQL("ALTER ROLE {platform} IN DATABASE {db} SET search_path = tenantry, public").format(
            platform=platform, db=db
        ),
        sql.SQL("ALTER ROLE {runtime} SET track_activities = off").format(runtime=runtime),
    ]


def lock_statement_stats(conn: psycopg.Connection[tuple[object, ...]], roles: Roles) -> None:
    """Install pg_stat_statements where the server preloads it (the embedded one does), readable
    by the operators only: it holds every role's statement texts."""
    row = conn.execute("SHOW shared_preload_libraries").fetchone()
    if not row or "pg_stat_statements" not in str(row[0]):
        return
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public")
    for view in ("public.pg_stat_statements", "public.pg_stat_statements_info"):
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM PUBLIC").format(sql.SQL(view)))
        conn.execute(
            sql.SQL("GRANT SELECT ON {} TO {}").format(sql.SQL(view), sql.Identifier(roles.owner))
        )
    # The views read set-returning functions that PUBLIC may call, and any role reads its own
    # statements through them: the runtime role would read every tenant's.
    functions = conn.execute(
        """SELECT p.oid::regprocedure::text FROM pg_proc p
             JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_stat_statements'
            WHERE p.proname <> 'pg_stat_statements_reset'"""
    ).fetchall()
    for (function,) in functions:
        name = sql.SQL(str(function))
        conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(name))
        conn.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(name, sql.Identifier(roles.owner))
        )
