"""Attacks from inside a tenant's transaction, connected as the runtime role.

Whatever SQL runs in tenant A's signed context must not read or change one row of tenant B, nor
of another app of tenant A; without a valid context it must see nothing and write nothing.
"""

from __future__ import annotations

import time
from uuid import UUID

import psycopg
import pytest
from psycopg import errors, sql

from tenantry.kit.context import ContextKey, ContextSigner, TenantContext
from tenantry.kit.ids import uuid7
from tests.isolation.world import World, apply

pytestmark = pytest.mark.usefixtures("world")


def scoped_tables(
    conn: psycopg.Connection[dict], access: str = "read_write|append_only"
) -> list[str]:  # type: ignore[type-arg]
    rows = conn.execute(
        "SELECT format('%%I.%%I', table_schema, table_name) AS name FROM tenantry.scoped_tables "
        "WHERE runtime_access ~ %s",
        [f"^({access})$"],
    ).fetchall()
    conn.rollback()
    return [r["name"] for r in rows]


def count(conn, table: str, where: str = "true", params=None) -> int:  # type: ignore[no-untyped-def]
    query = sql.SQL("SELECT count(*) AS n FROM {} WHERE ").format(sql.SQL(table)) + sql.SQL(where)
    return conn.execute(query, params).fetchone()["n"]


def test_no_context_sees_nothing_and_writes_nothing(runtime, signer, world: World) -> None:
    tables = scoped_tables(runtime)
    assert {"tenantry.app_users", "tenantry.sessions", "tenantry.security_events"} <= set(tables)
    for table in [*tables, "tenantry.tenants"]:
        assert count(runtime, table) == 0, table
    runtime.rollback()
    # Platform-only tables are not readable by the runtime role at all, even with the widest
    # context a tenant can have.
    platform_only = scoped_tables(runtime, "none")
    assert "tenantry.cross_app_user_correlation" in platform_only
    for table in platform_only:
        apply(
            runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1, cross_app=True))
        )
        with pytest.raises(errors.InsufficientPrivilege):
            count(runtime, table)
        runtime.rollback()
    with pytest.raises(errors.InsufficientPrivilege):
        runtime.execute(
            "INSERT INTO tenantry.app_users (tenant_id, app_id, id, email) VALUES (%s, %s, %s, %s)",
            [world.tenant_a, world.app_1, uuid7(), "nobody@example.com"],
        )
    runtime.rollback()
    assert runtime.execute("UPDATE tenantry.app_users SET email = 'x@y.z'").rowcount == 0
    assert runtime.execute("DELETE FROM tenantry.app_user_preferences").rowcount == 0


def test_every_table_shows_only_the_contexts_rows(runtime, signer, world: World) -> None:
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1)))
    tables = ["tenantry.app_users", "tenantry.app_user_preferences", "tenantry.tenant_apps"]
    for table in tables:
        assert count(runtime, table, "tenant_id <> %s", [world.tenant_a]) == 0, table
        assert count(runtime, table) > 0, table
    assert count(runtime, "tenantry.app_users", "app_id <> %s", [world.app_1]) == 0
    assert count(runtime, "tenantry.tenants") == 1
    assert count(runtime, "tenantry.tenants", "id = %s", [world.tenant_b]) == 0


def test_tenant_a_cannot_touch_tenant_b(runtime, signer, world: World) -> None:
    b_user = world.users[(world.tenant_b, world.app_1)][0]
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1)))
    # Even naming B's ids explicitly finds nothing.
    assert count(runtime, "tenantry.app_users", "tenant_id = %s", [world.tenant_b]) == 0
    assert count(runtime, "tenantry.app_users", "id = %s", [b_user]) == 0
    assert (
        runtime.execute(
            "UPDATE tenantry.app_users SET email = 'p@wn.ed' WHERE id = %s", [b_user]
        ).rowcount
        == 0
    )
    assert (
        runtime.execute(
            "DELETE FROM tenantry.app_users WHERE tenant_id = %s", [world.tenant_b]
        ).rowcount
        == 0
    )
    assert (
        runtime.execute(
            "DELETE FROM tenantry.app_user_preferences WHERE tenant_id <> %s", [world.tenant_a]
        ).rowcount
        == 0
    )
    with (
        runtime.cursor() as cur,
        cur.copy("COPY tenantry.app_users (id, tenant_id) TO STDOUT") as copy,
    ):
        exported = list(copy.rows())
    assert exported
    assert all(UUID(str(tenant)) == world.tenant_a for _, tenant in exported)
    runtime.rollback()
    # Inserting a row for B is rejected by WITH CHECK, by INSERT and by COPY.
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1)))
    with pytest.raises(errors.InsufficientPrivilege):
        runtime.execute(
            "INSERT INTO tenantry.app_users (tenant_id, app_id, id, email) VALUES (%s, %s, %s, 'x@y.z')",
            [world.tenant_b, world.app_1, uuid7()],
        )
    runtime.rollback()
    # PostgreSQL refuses COPY FROM on tables with row-level security outright.
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1)))
    with (
        pytest.raises(errors.FeatureNotSupported),
        runtime.cursor() as cur,
        cur.copy("COPY tenantry.app_users (tenant_id, app_id, id, email) FROM STDIN") as copy,
    ):
        copy.write_row((world.tenant_b, world.app_1, uuid7(), "copy@b.test"))
    runtime.rollback()


def test_update_cannot_move_a_row_to_another_tenant_or_app(runtime, signer, world: World) -> None:
    mine = world.users[(world.tenant_a, world.app_1)][1]
    for column, value in (("tenant_id", world.tenant_b), ("app_id", world.app_2)):
        apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1)))
        # On Citus, changing the distribution column is refused before any policy runs.
        refused = (errors.InsufficientPrivilege, errors.ForeignKeyViolation)
        with pytest.raises((*refused, errors.FeatureNotSupported)):
            runtime.execute(
                sql.SQL("UPDATE tenantry.app_users SET {} = %s WHERE id = %s").format(
                    sql.Identifier(column)
                ),
                [value, mine],
            )
        runtime.rollback()


def test_app_boundary_inside_one_tenant(runtime, signer, world: World) -> None:
    other_app_user = world.users[(world.tenant_a, world.app_2)][0]
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1)))
    assert count(runtime, "tenantry.app_users", "app_id = %s", [world.app_2]) == 0
    assert (
        count(runtime, "tenantry.app_user_preferences", "app_user_id = %s", [other_app_user]) == 0
    )
    assert (
        runtime.execute("DELETE FROM tenantry.app_users WHERE id = %s", [other_app_user]).rowcount
        == 0
    )
    runtime.rollback()
    # A preference of app 1 pointing at app 2's user: the composite foreign key refuses it.
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1)))
    with pytest.raises(errors.ForeignKeyViolation):
        runtime.execute(
            """INSERT INTO tenantry.app_user_preferences (tenant_id, app_id, id, app_user_id, key, value)
               VALUES (%s, %s, %s, %s, 'k', '1')""",
            [world.tenant_a, world.app_1, uuid7(), other_app_user],
        )
    runtime.rollback()


def test_same_email_is_four_identities(runtime, signer, world: World) -> None:
    ids = set()
    for tenant in (world.tenant_a, world.tenant_b):
        for app in (world.app_1, world.app_2):
            apply(runtime, signer.sign_tenant(world.context(tenant, app)))
            rows = runtime.execute(
                "SELECT id FROM tenantry.app_users WHERE lower(email) = 'same@example.com'"
            ).fetchall()
            runtime.rollback()
            assert len(rows) == 1
            ids.add(rows[0]["id"])
    assert len(ids) == 4


def test_cross_app_admin_reads_all_apps_of_its_tenant_only(runtime, signer, world: World) -> None:
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1, cross_app=True)))
    apps = {r["app_id"] for r in runtime.execute("SELECT app_id FROM tenantry.app_users")}
    tenants = {r["tenant_id"] for r in runtime.execute("SELECT tenant_id FROM tenantry.app_users")}
    assert apps == {world.app_1, world.app_2}
    assert tenants == {world.tenant_a}
    # Reading across apps never means writing across apps.
    other = world.users[(world.tenant_a, world.app_2)][0]
    assert (
        runtime.execute(
            "UPDATE tenantry.app_users SET display_name = 'x' WHERE id = %s", [other]
        ).rowcount
        == 0
    )
    runtime.rollback()


def _tamper(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda s, w: str(w.tenant_a), id="plain-tenant-id"),
        pytest.param(lambda s, w: "", id="empty"),
        pytest.param(
            lambda s, w: _tamper(
                s.sign_tenant(TenantContext(w.tenant_b, w.app_1)), 2, str(w.tenant_a)
            ),
            id="tampered-tenant",
        ),
        pytest.param(
            lambda s, w: _tamper(s.sign_tenant(TenantContext(w.tenant_a, w.app_1)), 5, "a"),
            id="tampered-flags",
        ),
        pytest.param(
            lambda s, w: _tamper(
                s.sign_tenant(TenantContext(w.tenant_a, w.app_1)), 6, "9999999999"
            ),
            id="extended-expiry",
        ),
        pytest.param(
            lambda s, w: _tamper(s.sign_tenant(TenantContext(w.tenant_a, w.app_1)), 7, "0" * 64),
            id="zero-signature",
        ),
        pytest.param(
            lambda s, w: _tamper(
                s.sign_tenant(TenantContext(w.tenant_a, w.app_1)), 1, "unknownkid"
            ),
            id="unknown-kid",
        ),
        pytest.param(
            lambda s, w: ContextSigner(ContextKey(s.kid, b"x" * 32), 300).sign_tenant(
                TenantContext(w.tenant_a, w.app_1)
            ),
            id="forged-with-guessed-key",
        ),
        pytest.param(
            lambda s, w: ContextSigner(ContextKey(s.kid, b""), 300).sign_tenant(
                TenantContext(w.tenant_a, w.app_1)
            ),
            id="forged-empty-key",
        ),
        pytest.param(
            lambda s, w: s.sign_tenant(TenantContext(w.tenant_a, w.app_1)) + "'; --",
            id="injection-suffix",
        ),
        # Claims that would fail their casts: nothing may be cast before the MAC is checked.
        pytest.param(
            lambda s, w: _tamper(s.sign_tenant(TenantContext(w.tenant_a, w.app_1)), 2, "x'y"),
            id="garbage-tenant",
        ),
        pytest.param(
            lambda s, w: _tamper(s.sign_tenant(TenantContext(w.tenant_a, w.app_1)), 6, "soon"),
            id="garbage-expiry",
        ),
        pytest.param(
            lambda s, w: s.sign_tenant(TenantContext(w.tenant_a, w.app_1)).upper(),
            id="case-changed",
        ),
    ],
)
def test_invalid_contexts_see_nothing(runtime, signer, world: World, make_token) -> None:
    apply(runtime, make_token(signer, world))
    assert count(runtime, "tenantry.app_users") == 0
    assert count(runtime, "tenantry.tenants") == 0
    assert runtime.execute("SELECT tenantry.current_tenant_id() AS t").fetchone()["t"] is None
    with pytest.raises(errors.InsufficientPrivilege):
        runtime.execute(
            "INSERT INTO tenantry.app_users (tenant_id, app_id, id, email) VALUES (%s, %s, %s, 'x@y.z')",
            [world.tenant_a, world.app_1, uuid7()],
        )
    runtime.rollback()


def test_context_replayed_after_expiry_sees_nothing(runtime, signer, world: World) -> None:
    # Long enough for a first statement that opens connections to every worker under load.
    short = ContextSigner(ContextKey(signer.kid, signer._key.secret), ttl_seconds=5)
    token = short.sign_tenant(world.context(world.tenant_a, world.app_1))
    apply(runtime, token)
    assert count(runtime, "tenantry.app_users") > 0  # valid while fresh
    runtime.rollback()
    time.sleep(6.1)
    apply(runtime, token)
    assert count(runtime, "tenantry.app_users") == 0
    runtime.rollback()


def test_platform_flag_means_nothing_to_the_runtime_role(runtime, signer, world: World) -> None:
    apply(runtime, signer.sign_platform())
    assert count(runtime, "tenantry.app_users") == 0
    assert count(runtime, "tenantry.tenants") == 0
    runtime.rollback()


def test_context_is_transaction_local(runtime, signer, world: World) -> None:
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1)))
    assert count(runtime, "tenantry.app_users") > 0
    runtime.commit()
    assert runtime.execute("SELECT current_setting('tenantry.context', true) AS c").fetchone()[
        "c"
    ] in (None, "")
    assert count(runtime, "tenantry.app_users") == 0
    runtime.rollback()


@pytest.mark.parametrize(
    "statement",
    [
        "SET ROLE tenantry_test_owner",
        "SET ROLE tenantry_test_platform",
        "SET ROLE postgres",
        "SET SESSION AUTHORIZATION tenantry_test_owner",
        "SELECT * FROM tenantry_private.context_keys",
        "SELECT tenantry_private.verified_context()",
        "CREATE OR REPLACE VIEW tenantry.current_scope AS SELECT NULL::uuid AS tenant_id",
        "ALTER VIEW tenantry.current_scope SET (security_barrier = false)",
        "ALTER VIEW tenantry.current_scope OWNER TO tenantry_test_runtime",
        "SELECT * FROM tenantry_private.signing_key()",
        "CREATE TABLE tenantry.sneaky (id int)",
        "CREATE TABLE public.sneaky (id int)",
        "CREATE TEMP TABLE sneaky (id int)",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE SCHEMA sneaky",
        "TRUNCATE tenantry.app_users",
        "TRUNCATE tenantry.tenants",
        "ALTER TABLE tenantry.app_users DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE tenantry.app_users NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY runtime_access ON tenantry.app_users",
        "CREATE POLICY open ON tenantry.app_users USING (true)",
        "ALTER ROLE tenantry_test_runtime BYPASSRLS",
        "SET track_activities = on",
        "INSERT INTO tenantry.apps (id, slug, name) VALUES (gen_random_uuid(), 'evil', 'Evil')",
        "UPDATE tenantry.scoped_tables SET scope = 'tenant'",
        "INSERT INTO tenantry.tenants (id, slug, name) VALUES (gen_random_uuid(), 'evil', 'Evil')",
        # Which apps a tenant may use is the control plane's decision, not the tenant's.
        "INSERT INTO tenantry.tenant_apps (tenant_id, app_id) SELECT tenantry.current_tenant_id(), id FROM tenantry.apps ON CONFLICT DO NOTHING",
        "DELETE FROM tenantry.tenant_apps",
        "UPDATE tenantry.tenant_settings SET value = '1'",
        "INSERT INTO tenantry.feature_flag_overrides (tenant_id, id, flag_key, value, version) VALUES (tenantry.current_tenant_id(), gen_random_uuid(), 'x', 'true', 1)",
        "DELETE FROM tenantry.security_events",
        "UPDATE tenantry.security_events SET kind = 'x'",
        "SELECT * FROM tenantry.cross_app_user_correlation",
        "SELECT * FROM tenantry.tenant_lifecycle_events",
        "CREATE OR REPLACE FUNCTION tenantry.current_tenant_id() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid'",
        "ALTER FUNCTION tenantry.current_tenant_id() OWNER TO tenantry_test_runtime",
        "CREATE TRIGGER t BEFORE INSERT ON tenantry.app_users FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        "COPY tenantry.app_users TO '/tmp/leak.csv'",
        "SELECT pg_read_file('postgresql.conf')",
        "CREATE EXTENSION IF NOT EXISTS hstore",
    ],
)
def test_escape_attempts_fail(runtime, signer, world: World, statement: str) -> None:
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1)))
    with pytest.raises(
        (errors.InsufficientPrivilege, errors.UndefinedObject, errors.FeatureNotSupported)
    ):
        runtime.execute(statement)
    runtime.rollback()


def test_reset_role_changes_nothing(runtime, signer, world: World) -> None:
    runtime.execute("RESET ROLE")
    assert runtime.execute("SELECT current_user AS u").fetchone()["u"] == "tenantry_test_runtime"
    assert count(runtime, "tenantry.app_users") == 0
    runtime.rollback()


def test_other_sessions_query_text_is_hidden(urls, signer, world: World) -> None:
    token = signer.sign_tenant(world.context(world.tenant_b, world.app_1))
    with psycopg.connect(urls.runtime) as victim, psycopg.connect(urls.runtime) as spy:
        # The victim's context is a bind parameter, but its query text must stay hidden too.
        victim.execute("SELECT set_config('tenantry.context', %s, true), 'victim-marker'", [token])
        rows = spy.execute(
            "SELECT query FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid()"
        ).fetchall()
        assert not any("victim-marker" in (r[0] or "") for r in rows)
        assert not any(token in (r[0] or "") for r in rows)
        assert spy.execute("SHOW track_activities").fetchone()[0] == "off"


async def test_session_level_context_is_cleared_before_reuse(urls, signer, world: World) -> None:
    # A hostile statement stores a valid context at session level, hoping the pooled connection
    # carries it into the next checkout; the commit clears it in the same round trip.
    async with urls.database(min_size=1, max_size=1) as db:
        async with db.tenant_transaction(world.context(world.tenant_a, world.app_1)) as tx:
            conn = await tx.connection()
            await conn.execute(
                "SELECT set_config('tenantry.context', %s, false)",
                [signer.sign_tenant(world.context(world.tenant_a, world.app_1))],
            )
        async with db.runtime_pool.connection() as conn:
            row = await (
                await conn.execute("SELECT count(*) AS n FROM tenantry.app_users")
            ).fetchone()
            await conn.rollback()
    assert row["n"] == 0


def test_verifier_view_shows_claims_never_keys(runtime, signer, world: World) -> None:
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1)))
    rows = runtime.execute("SELECT * FROM tenantry.current_scope").fetchall()
    assert [(r["tenant_id"], r["app_id"], r["all_apps"]) for r in rows] == [
        (world.tenant_a, world.app_1, False)
    ]
    assert set(rows[0]) == {
        "tenant_id",
        "app_id",
        "app_user_id",
        "all_apps",
        "platform",
        "readable_scope_keys",
        "actor_id",
    }
    runtime.rollback()
    assert runtime.execute("SELECT count(*) AS n FROM tenantry.current_scope").fetchone()["n"] == 0
    runtime.rollback()
