"""Tenantry on Citus: a database migrated on the coordinator and distributed
(`tenantry.citus.service.distribute`), then attacked as the runtime role.

Each tenant's rows live in shards on the workers; every statement's policies run there, on
the shard, with the context Citus forwarded. Tenants provisioned through the services, read
and written through `Database` as requests do; raw runtime connections try what SQL in a
request could.
"""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from tenantry.citus import service
from tenantry.isolation.audit import audit
from tenantry.kit import migrate
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.kit.errors import ConfigurationError
from tenantry.placements.moves import MoveFailed, TenantMoves
from tenantry.workloads.costs import service as costs
from tenantry.workloads.costs.models import NewCostEvent
from tests.isolation.world import World
from tests.support.citus import citus_url
from tests.support.cli import tenantry
from tests.support.database import ROLES, signer_for
from tests.support.wiring import FIXTURES, services_for

URL = citus_url()

pytestmark = [
    pytest.mark.citus,
    pytest.mark.skipif(
        URL is None, reason="no Citus cluster: run `make citus` or set TENANTRY_CITUS_URL"
    ),
]
WORKSPACE = "thinktank.workspace.created"
USERS = "SELECT tenant_id, app_id, email FROM tenantry.app_users ORDER BY email"


def emails(name: str) -> list[str]:
    """The users of tenant `name`'s first app (conftest's world)."""
    return sorted(["same@example.com", f"thinktank@citus-{name}.test"])


@pytest.fixture
def pair(citus_db: Database, world: World) -> tuple[Database, dict[str, TenantContext]]:
    return citus_db, {
        "a": world.context(world.tenant_a, world.app_1),
        "b": world.context(world.tenant_b, world.app_1),
    }


def test_tenant_tables_are_distributed_by_tenant_and_colocated(cluster) -> None:
    urls, done = cluster
    with psycopg.connect(urls.admin) as conn:
        kinds = dict(
            conn.execute(
                "SELECT logicalrelid::regclass::text, partmethod::text || ':' || colocationid"
                " FROM pg_dist_partition"
            ).fetchall()
        )
        scoped = [
            f"{schema}.{name}"
            for schema, name in conn.execute(
                "SELECT table_schema, table_name FROM tenantry.scoped_tables"
            ).fetchall()
        ]
    groups = {kinds[table] for table in scoped}
    assert len(groups) == 1, groups
    assert next(iter(groups)).startswith("h:")
    assert set(scoped) <= set(done.distributed)
    for catalog in ("tenantry.tenants", "tenantry.apps", "tenantry.placements"):
        assert kinds[catalog].startswith("n:")
    assert "tenantry_private.context_keys" not in kinds  # each node's own copy


def test_audit_db_finds_nothing_on_the_distributed_database(cluster) -> None:
    """The Citus forms pass the same checks (direct claim calls are the Citus form, and no
    residency guard is expected on a Citus table)."""
    urls, _ = cluster
    assert audit(urls.admin, ROLES) == []


def test_a_second_distribute_changes_nothing(cluster) -> None:
    urls, _ = cluster
    again = service.distribute(urls.admin, ROLES)
    assert (again.distributed, again.reference) == ([], [])


async def test_each_tenant_reads_only_its_own_rows_from_the_workers(pair) -> None:
    db, contexts = pair
    for name, context in contexts.items():
        rows = await db.read(context, USERS)
        assert [r["email"] for r in rows] == emails(name)
        assert {r["tenant_id"] for r in rows} == {context.tenant_id}
    a, b = contexts["a"], contexts["b"]
    # Naming the other tenant routes the query to its shard: the policy there still refuses.
    stolen = await db.read(a, "SELECT count(*) AS n FROM tenantry.app_users WHERE tenant_id = %s",
                           [b.tenant_id])  # fmt: skip
    assert stolen[0]["n"] == 0


async def test_a_write_into_another_tenant_is_refused_on_its_shard(pair) -> None:
    db, contexts = pair
    a, b = contexts["a"], contexts["b"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        async with db.tenant_transaction(a) as tx:
            await tx.execute(
                "INSERT INTO tenantry.app_users (tenant_id, app_id, id, email)"
                " VALUES (%s, %s, gen_random_uuid(), 'intruder@example.com')",
                [b.tenant_id, b.app_id],
            )
    assert [r["email"] for r in await db.read(b, USERS)] == emails("b")


def test_raw_runtime_sql_gets_nothing_without_a_forwarded_valid_context(cluster, pair) -> None:
    urls, _ = cluster
    _, contexts = pair
    signer = signer_for(urls.admin)
    token = signer.sign_tenant(contexts["a"])
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    count = "SELECT count(*) FROM tenantry.app_users"
    with psycopg.connect(urls.runtime, autocommit=True) as conn:
        assert conn.execute(count).fetchone() == (0,)
        with conn.transaction():  # set_config() stays on the coordinator: shards see none
            conn.execute("SELECT set_config('tenantry.context', %s, true)", [token])
            assert conn.execute(count).fetchone() == (0,)
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL tenantry.context = {}").format(sql.Literal(forged)))
            assert conn.execute(count).fetchone() == (0,)
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL tenantry.context = {}").format(sql.Literal(token)))
            assert conn.execute(count).fetchone() == (2,)
        # On the workers themselves (Citus lets the role run SQL there): no key to read, and
        # every shard of the table, read directly, shows nothing.
        keys = conn.execute("SELECT success, result FROM run_command_on_workers("
                            "'SELECT count(*) FROM tenantry_private.context_keys')").fetchall()  # fmt: skip
        assert len(keys) >= 2
        assert all(not ok and "permission denied" in result for ok, result in keys)
        shards = conn.execute(
            "SELECT success, result FROM run_command_on_shards('tenantry.app_users',"
            " 'SELECT count(*) FROM %s')"
        ).fetchall()
        assert len(shards) > 1
        assert all(ok and result == "0" for ok, result in shards)


async def test_isolate_gives_a_tenant_shards_of_its_own_on_another_worker(cluster, pair) -> None:
    urls, _ = cluster
    db, contexts = pair
    with psycopg.connect(urls.admin) as conn:
        workers = conn.execute("SELECT * FROM citus_get_active_worker_nodes()").fetchall()
        _, host, port = service.db.shard_of(conn, service.ANCHOR, contexts["a"].tenant_id)
    other = next((str(h), int(p)) for h, p in workers if (h, p) != (host, port))
    done = service.isolate(urls.admin, "citus-a", to_node=other)
    assert done.node == f"{other[0]}:{other[1]}"
    with psycopg.connect(urls.admin) as conn:
        low, high = service.db.shard_tenants(conn, done.shard)
        assert low == high  # one hash value: this tenant's
        holders = conn.execute(
            "SELECT count(*) FROM citus_shards WHERE shardid = %s AND nodeport = %s",
            [done.shard, other[1]],
        ).fetchone()
        assert holders == (1,)
    for name, context in contexts.items():
        rows = await db.read(context, USERS)
        assert [r["email"] for r in rows] == emails(name)


async def test_a_retired_key_stops_verifying_on_the_workers(cluster, pair) -> None:
    urls, _ = cluster
    db, contexts = pair
    old = signer_for(urls.admin)
    owner = migrate.owner_connection(urls.admin, ROLES)
    with owner:
        new_kid = migrate.add_context_key(owner)
        migrate.retire_context_key(owner, old.kid)
    new = signer_for(urls.admin)
    assert new.kid == new_kid
    count = "SELECT count(*) FROM tenantry.app_users"
    with psycopg.connect(urls.runtime, autocommit=True) as conn:
        for signer, expected in ((old, 0), (new, 2)):
            with conn.transaction():
                token = signer.sign_tenant(contexts["a"])
                conn.execute(sql.SQL("SET LOCAL tenantry.context = {}").format(sql.Literal(token)))
                assert conn.execute(count).fetchone() == (expected,)
    await db.reload_signing_key()  # the service's next step after a rotation
    assert len(await db.read(contexts["b"], USERS)) == 2


def test_the_cli_isolates_a_tenant(cluster, pair) -> None:
    urls, _ = cluster
    result = tenantry(urls, "citus", "isolate", "citus-b")
    assert result.returncode == 0, result.stderr
    assert "tenant citus-b" in result.stdout
    assert "alone in shard" in result.stdout


def test_doctor_checks_consistency_and_drift_on_citus(urls, world: World) -> None:
    """Its consistency queries are planned by Citus; its drift check compares with a database
    migrated and given the Citus forms of the policies, so a distributed database shows no
    drift until a policy is changed by hand."""
    result = tenantry(urls, "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "schema_drift" not in result.stdout
    assert "tenant_without_admin: citus-a" in result.stdout  # the world has no admin users
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        (using,) = conn.execute(
            "SELECT qual FROM pg_policies WHERE schemaname = 'tenantry'"
            " AND tablename = 'tenant_settings' AND policyname = 'runtime_access'"
        ).fetchone()
        weakened = "ALTER POLICY runtime_access ON tenantry.tenant_settings USING ({})"
        conn.execute(sql.SQL(weakened).format(sql.SQL("true")))
        try:
            result = tenantry(urls, "doctor")
        finally:
            conn.execute(sql.SQL(weakened).format(sql.SQL(using)))
    assert result.returncode != 0
    assert "policy tenantry.tenant_settings runtime_access" in result.stdout


async def test_tenants_move_is_refused_on_citus(pair) -> None:
    db, _ = pair
    with pytest.raises(MoveFailed, match="citus isolate"):
        await TenantMoves(db).move("citus-a", "shared", by=FIXTURES)


def test_distribute_refuses_a_database_without_citus() -> None:
    from tests.support.database import server_url

    with pytest.raises(ConfigurationError, match="no citus extension"):
        service.distribute(server_url(), ROLES)


async def test_the_per_row_trigger_variants_fan_out_roll_up_and_chain(
    db: Database, world: World
) -> None:
    """The statement triggers Citus cannot run became per-row ones: an event still fans out to
    the tenant's subscribers (only its own), cost events still roll up, and the audit chain
    still verifies, all written on the workers."""
    services = services_for(db)
    await services.apps.reload()
    thinktank = services.apps.by_slug("thinktank").id
    await services.outbox.subscribe(world.tenant_a, world.app_2, "indexer", ["thinktank.*"])
    await services.outbox.subscribe(world.tenant_b, world.app_2, "indexer", ["thinktank.*"])
    event = await services.outbox.publish(
        world.tenant_a, thinktank, WORKSPACE, {"workspace_id": str(thinktank)}, key="w-1"
    )
    context = world.context(world.tenant_a, world.app_1)
    batch = [(WORKSPACE, {"workspace_id": str(thinktank)}, f"w-{n}") for n in (2, 3)]
    async with services.db.tenant_transaction(context) as tx:
        assert (
            await services.outbox.publish_many_in(
                tx, tenant_id=world.tenant_a, app_id=thinktank, events=batch
            )
            == 2
        )
    async with services.db.tenant_transaction(context) as tx:
        await costs.record(
            services.db, tx, world.tenant_a, world.app_1,
            [NewCostEvent("llm", Decimal("0.25")), NewCostEvent("llm", Decimal("0.50"))],
        )  # fmt: skip
    async with services.db.platform_transaction() as tx:
        deliveries = await tx.fetch_all(
            "SELECT tenant_id, consumer FROM tenantry.event_deliveries WHERE event_id = %s",
            [event.id],
        )
        fanned = await tx.fetch_one(
            "SELECT count(*) AS n FROM tenantry.event_deliveries WHERE tenant_id = %s",
            [world.tenant_a],
        )
        summaries = await tx.fetch_all(
            "SELECT events, cost_usd FROM ai.cost_daily_summaries WHERE tenant_id = %s",
            [world.tenant_a],
        )
    assert [(d["tenant_id"], d["consumer"]) for d in deliveries] == [(world.tenant_a, "indexer")]
    assert fanned is not None
    assert fanned["n"] == 3  # the batch's two too
    assert [(s["events"], s["cost_usd"]) for s in summaries] == [(2, Decimal("0.75"))]
    [chain] = [c async for c in services.audit.verify("citus-a")]
    assert chain.ok, chain.problem
