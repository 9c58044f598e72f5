"""Tables declared in a module's own Alembic migration get every guarantee of Tenantry's own,
whether the migration runs under `tenantry db upgrade` (`upgrade_module`) or from the plain
`alembic` command; downgrading removes them and their registry rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from psycopg import errors
from psycopg.rows import dict_row

from tenantry.isolation.audit import audit
from tenantry.kit import migrate
from tenantry.kit.config import get_settings
from tenantry.kit.context import TenantContext
from tenantry.kit.ids import uuid7
from tests.support.accounts import make_tenant
from tests.support.database import ROLES, signer_for
from tests.support.wiring import services_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tenantry.kit.db import Database
    from tenantry.kit.modules import Module
    from tests.support.database import Urls

TABLES = {"libtest.items": "app", "libtest.labels": "tenant"}


def catalog(admin_url: str) -> dict[str, dict[str, object]]:
    """What the live catalog says about each libtest table."""
    found: dict[str, dict[str, object]] = {}
    with psycopg.connect(admin_url, row_factory=dict_row) as conn:
        for table in TABLES:
            row = conn.execute(
                "SELECT c.relrowsecurity AS rls, c.relforcerowsecurity AS forced FROM pg_class c "
                "WHERE c.oid = to_regclass(%s)",
                [table],
            ).fetchone()
            if row is None:
                continue
            schema, name = table.split(".")
            policies = conn.execute(
                "SELECT policyname, roles::text[] AS roles, cmd FROM pg_policies "
                "WHERE schemaname = %s AND tablename = %s ORDER BY 1",
                [schema, name],
            ).fetchall()
            primary = conn.execute(
                "SELECT array_agg(a.attname ORDER BY k.n) AS columns FROM pg_index i "
                "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary",
                [table],
            ).fetchone()
            references = conn.execute(
                "SELECT confrelid::regclass::text AS target FROM pg_constraint "
                "WHERE conrelid = to_regclass(%s) AND contype = 'f' ORDER BY 1",
                [table],
            ).fetchall()
            registered = conn.execute(
                "SELECT scope, runtime_access FROM tenantry.scoped_tables "
                "WHERE table_schema = %s AND table_name = %s",
                [schema, name],
            ).fetchone()
            privileges = conn.execute(
                "SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', "
                "'REFERENCES', 'TRIGGER']) AS p WHERE has_table_privilege(%s, %s, p)",
                [ROLES.runtime, table],
            ).fetchall()
            found[table] = {
                **row,
                "policies": {(p["policyname"], p["roles"][0], p["cmd"]) for p in policies},
                "primary_key": primary["columns"] if primary else None,
                "references": [r["target"] for r in references],
                "registered": registered,
                "runtime_privileges": {p["p"] for p in privileges},
            }
    return found


def assert_guarded(admin_url: str) -> None:
    tables = catalog(admin_url)
    assert set(tables) == set(TABLES)
    for table, scope in TABLES.items():
        found = tables[table]
        assert found["rls"] is True, table
        assert found["forced"] is True, table
        assert found["policies"] == {
            ("platform_access", ROLES.platform, "ALL"),
            ("runtime_access", ROLES.runtime, "ALL"),
        }, table
        assert found["primary_key"] == ["tenant_id", "id"], table
        assert found["registered"] == {"scope": scope, "runtime_access": "read_write"}, table
        assert found["runtime_privileges"] == {"SELECT", "INSERT", "UPDATE", "DELETE"}, table
    # Keys lead with the tenant: the tenant, the app the tenant runs, and the author in it.
    assert tables["libtest.items"]["references"] == [
        "tenantry.app_users",
        "tenantry.apps",
        "tenantry.tenant_apps",
        "tenantry.tenants",
    ]
    assert audit(admin_url, ROLES) == []


def assert_gone(admin_url: str, module: Module) -> None:
    assert catalog(admin_url) == {}
    with psycopg.connect(admin_url) as conn:
        registered = conn.execute(
            "SELECT count(*) FROM tenantry.scoped_tables WHERE table_schema = 'libtest'"
        ).fetchone()
        schema = conn.execute("SELECT to_regnamespace('libtest')").fetchone()
        version = conn.execute(
            f"SELECT count(*) FROM tenantry_private.{module.version_table}"
        ).fetchone()
    assert registered == (0,)
    assert schema == (None,)
    assert version == (0,)
    assert audit(admin_url, ROLES) == []


def test_upgrade_module_creates_guarded_tables_and_downgrade_removes_them(
    scratch_urls: Urls, module: Module
) -> None:
    with migrate.owner_transaction(scratch_urls.admin, ROLES) as connection:
        assert migrate.upgrade_module(connection, ROLES, module) == ("lt0001",)
        # Run again: nothing left to apply.
        assert migrate.upgrade_module(connection, ROLES, module) == ()
    assert_guarded(scratch_urls.admin)
    with migrate.owner_transaction(scratch_urls.admin, ROLES) as connection:
        assert migrate.downgrade_module(connection, ROLES, module) == ("lt0001",)
    assert_gone(scratch_urls.admin, module)


@pytest.fixture
def test_roles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The `alembic` command reads the role prefix as `tenantry db upgrade` does."""
    monkeypatch.setenv("TENANTRY_ROLE_PREFIX", ROLES.prefix)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("test_roles")
def test_the_alembic_command_runs_the_same_migrations(
    scratch_urls: Urls, module_folder: Path, module: Module
) -> None:
    config = Config()
    config.set_main_option("script_location", str(module_folder))
    config.set_main_option("sqlalchemy.url", scratch_urls.admin)
    command.upgrade(config, "head")
    assert_guarded(scratch_urls.admin)
    with psycopg.connect(scratch_urls.admin) as conn:
        owner = conn.execute(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'libtest'"
        ).fetchone()
        version = conn.execute(
            f"SELECT version_num FROM tenantry_private.{module.version_table}"
        ).fetchone()
    # Created as the owner role, never as the login that ran the command.
    assert owner == (ROLES.owner,)
    assert version == ("lt0001",)
    command.downgrade(config, "base")
    assert_gone(scratch_urls.admin, module)


def apply(conn: psycopg.Connection[dict[str, object]], token: str) -> None:
    conn.execute("SELECT set_config('tenantry.context', %s, true)", [token])


async def test_the_runtime_role_in_one_context_reaches_no_other(
    library_urls: Urls, library_db: Database
) -> None:
    signer = signer_for(library_urls.admin)
    a = await make_tenant(library_db, "thinktank", "launchboard")
    b = await make_tenant(library_db, "thinktank", "launchboard")
    apps = services_for(library_db).apps
    thinktank, launchboard = apps.by_slug("thinktank").id, apps.by_slug("launchboard").id
    contexts = {
        "a": TenantContext(a.id, thinktank),
        "a-other-app": TenantContext(a.id, launchboard),
        "b": TenantContext(b.id, thinktank),
    }
    rows: dict[str, object] = {}
    with psycopg.connect(library_urls.runtime, row_factory=dict_row) as runtime:
        # Each context writes its own rows, as its requests would.
        for name, context in contexts.items():
            apply(runtime, signer.sign_tenant(context))
            rows[name] = uuid7()
            runtime.execute(
                "INSERT INTO libtest.items (tenant_id, app_id, id, label) VALUES (%s, %s, %s, %s)",
                [context.tenant_id, context.app_id, rows[name], name],
            )
            runtime.execute(
                "INSERT INTO libtest.labels (tenant_id, id, name) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [context.tenant_id, uuid7(), f"label of {context.tenant_id}"],
            )
            runtime.commit()

        apply(runtime, signer.sign_tenant(contexts["a"]))
        # Not even naming B's tenant and ids shows its rows.
        assert [r["label"] for r in runtime.execute("SELECT label FROM libtest.items")] == ["a"]
        assert runtime.execute(
            "SELECT count(*) AS n FROM libtest.items WHERE id = ANY(%s)",
            [[rows["b"], rows["a-other-app"]]],
        ).fetchone() == {"n": 0}
        assert [r["name"] for r in runtime.execute("SELECT name FROM libtest.labels")] == [
            f"label of {a.id}"
        ]
        update = runtime.execute(
            "UPDATE libtest.items SET label = 'taken' WHERE id = ANY(%s)",
            [[rows["b"], rows["a-other-app"]]],
        )
        assert update.rowcount == 0
        assert (
            runtime.execute("DELETE FROM libtest.labels WHERE tenant_id = %s", [b.id]).rowcount == 0
        )
        with pytest.raises(errors.InsufficientPrivilege):
            runtime.execute(
                "INSERT INTO libtest.items (tenant_id, app_id, id, label) VALUES (%s, %s, %s, 'x')",
                [b.id, thinktank, uuid7()],
            )
        runtime.rollback()
        # Moving one's own row to another tenant is refused too.
        apply(runtime, signer.sign_tenant(contexts["a"]))
        with pytest.raises(errors.InsufficientPrivilege):
            runtime.execute("UPDATE libtest.items SET tenant_id = %s", [b.id])
        runtime.rollback()
        # Without a context: nothing at all.
        assert runtime.execute("SELECT count(*) AS n FROM libtest.items").fetchone() == {"n": 0}
        assert runtime.execute("SELECT count(*) AS n FROM libtest.labels").fetchone() == {"n": 0}
        runtime.rollback()
    with psycopg.connect(library_urls.admin) as admin:
        labels = admin.execute(
            "SELECT label FROM libtest.items WHERE id = ANY(%s) ORDER BY label",
            [list(rows.values())],
        ).fetchall()
    assert labels == [("a",), ("a-other-app",), ("b",)]
