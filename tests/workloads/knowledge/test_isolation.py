"""Knowledge search stays inside the caller's tenant and app: through the API, as the runtime
role trying to break out, and at a small scale of the recall property (a tiny tenant among big
ones still gets its exact nearest chunks, and a big one its approximate ones)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import psycopg
import pytest
from psycopg import errors
from psycopg.rows import dict_row

from tenantry.kit.context import TenantContext
from tenantry.kit.ids import uuid7
from tenantry.library.knowledge import KnowledgeSettings
from tenantry.workloads.knowledge import repository
from tenantry.workloads.knowledge.models import SearchMode
from tenantry.workloads.knowledge.service import KnowledgeService
from tests.support.accounts import Tenant, make_tenant, signed_in
from tests.support.cli import tenantry
from tests.support.workload_knowledge import HANDBOOK, add_document, editor, search

DOCS = "/v1/apps/thinktank/knowledge/documents"
SECRET = "The launch code of project nightingale is amber falcon seven."


async def test_other_tenants_apps_and_users_find_nothing_of_a(client, db) -> None:
    a = await make_tenant(db, "thinktank", "launchboard")
    b = await make_tenant(db, "thinktank")
    author = await editor(client, db, a, "author@example.com")
    secret = await add_document(client, author, "Nightingale", SECRET)
    b_editor = await editor(client, db, b, "other@example.com")
    await add_document(client, b_editor, "B's handbook", HANDBOOK)
    other_app = await signed_in(client, "launchboard", a, "neighbour@example.com")
    colleague = await signed_in(client, "thinktank", a, "colleague@example.com")

    for mode in ("fulltext", "vector", "hybrid", None):
        params = {"mode": mode} if mode else {}
        b_found = await client.get(
            "/v1/apps/thinktank/knowledge/search",
            headers=b_editor.auth,
            params={"q": SECRET, **params},
        )
        if b_found.status_code == 422:  # no pgvector: vector and hybrid are refused alike
            assert b_found.json()["code"] == "vector_search_unavailable"
            continue
        assert secret["id"] not in {h["document_id"] for h in b_found.json()["hits"]}
        assert all(h["title"] == "B's handbook" for h in b_found.json()["hits"])
        app_found = await client.get(
            "/v1/apps/launchboard/knowledge/search",
            headers=other_app.auth,
            params={"q": SECRET, **params},
        )
        assert app_found.status_code == 200
        assert app_found.json()["hits"] == []
    # The knowledge base is the app's: another user of the same tenant and app finds it.
    shared = await search(client, colleague, SECRET, mode="fulltext")
    assert shared["hits"][0]["document_id"] == secret["id"]

    # Named by id from outside: not found, never forbidden, and nothing changes.
    for user, path in ((b_editor, DOCS), (other_app, "/v1/apps/launchboard/knowledge/documents")):
        read = await client.get(f"{path}/{secret['id']}", headers=user.auth)
        assert read.status_code == 404
        assert read.json()["code"] == "not_found"
    deleted = await client.delete(f"{DOCS}/{secret['id']}", headers=b_editor.auth)
    assert deleted.status_code == 404
    listed = await client.get(DOCS, headers=b_editor.auth)
    assert [d["title"] for d in listed.json()["items"]] == ["B's handbook"]
    still = await client.get(f"{DOCS}/{secret['id']}", headers=colleague.auth)
    assert still.status_code == 200


async def test_the_runtime_role_cannot_reach_another_tenants_knowledge(
    client, db, urls, signer
) -> None:
    a = await make_tenant(db, "thinktank")
    b = await make_tenant(db, "thinktank")
    a_doc = await add_document(client, await editor(client, db, a, "a@example.com"), "A", SECRET)
    b_doc = await add_document(client, await editor(client, db, b, "b@example.com"), "B", HANDBOOK)
    app = db_app(urls)
    tables = ("ai.knowledge_documents", "ai.knowledge_chunks", "ai.knowledge_terms")
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        for table in tables:  # no context: nothing
            assert conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"] == 0
        conn.rollback()
        conn.execute(
            "SELECT set_config('tenantry.context', %s, true)",
            [signer.sign_tenant(TenantContext(a.id, app))],
        )
        for table in tables:
            seen = conn.execute(f"SELECT DISTINCT tenant_id FROM {table}").fetchall()
            assert [r["tenant_id"] for r in seen] == [a.id], table
        # B's lexemes are invisible even when asked for by name.
        assert (
            conn.execute(
                "SELECT count(*) AS n FROM ai.knowledge_terms WHERE document_id = %s", [b_doc["id"]]
            ).fetchone()["n"]
            == 0
        )
        # Rewriting or deleting B's rows touches nothing.
        assert (
            conn.execute(
                "UPDATE ai.knowledge_chunks SET content = 'x' WHERE tenant_id = %s", [b.id]
            ).rowcount
            == 0
        )
        assert (
            conn.execute("DELETE FROM ai.knowledge_terms WHERE tenant_id = %s", [b.id]).rowcount
            == 0
        )
        assert (
            conn.execute("DELETE FROM ai.knowledge_documents WHERE id = %s", [b_doc["id"]]).rowcount
            == 0
        )
        # Writing into B, or pointing A's rows at B's document, is refused.
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO ai.knowledge_terms (tenant_id, app_id, document_id, ordinal, lexeme,"
                " frequency, chunk_terms) VALUES (%s, %s, %s, 0, 'launch', 1, 1)",
                [b.id, app, b_doc["id"]],
            )
        conn.rollback()
        conn.execute(
            "SELECT set_config('tenantry.context', %s, true)",
            [signer.sign_tenant(TenantContext(a.id, app))],
        )
        with pytest.raises(errors.ForeignKeyViolation):
            conn.execute(
                "INSERT INTO ai.knowledge_terms (tenant_id, app_id, document_id, ordinal, lexeme,"
                " frequency, chunk_terms) VALUES (%s, %s, %s, 0, 'launch', 1, 1)",
                [a.id, app, b_doc["id"]],
            )
        conn.rollback()
    # A's document is whole.
    with psycopg.connect(urls.admin) as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM ai.knowledge_chunks WHERE document_id = %s),"
            " (SELECT count(*) FROM ai.knowledge_terms WHERE document_id = %s)",
            [a_doc["id"], a_doc["id"]],
        ).fetchone()
    assert left[0] == 1
    assert left[1] > 5


def db_app(urls) -> object:
    with psycopg.connect(urls.admin) as conn:
        return conn.execute("SELECT id FROM tenantry.apps WHERE slug = 'thinktank'").fetchone()[0]


def seed_chunks(urls, tenant_id, app_id, count: int, topics: int = 8) -> None:
    """`count` chunks of clustered vectors (topics shared by every tenant), loaded in bulk as
    the superuser: the scale this test needs would take minutes through the API."""
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        document = uuid7()
        conn.execute(
            "INSERT INTO ai.knowledge_documents (tenant_id, app_id, id, title, content_sha256,"
            " content_length, status, chunk_count, term_count) VALUES"
            " (%s, %s, %s, 'bulk', sha256(%s::text::bytea), 1, 'ready', %s, %s)",
            [tenant_id, app_id, document, document, count, count * 3],
        )
        conn.execute(
            """
            INSERT INTO ai.knowledge_chunks (tenant_id, app_id, document_id, ordinal, content,
                                             embedding)
            SELECT %(t)s, %(a)s, %(d)s, o, 'chunk ' || o || ' of bulk',
                   (SELECT array_agg(sin(i * (1 + o %% %(topics)s)) + (random() - 0.5) * 0.8)
                      FROM generate_series(1, 384) AS i WHERE o >= 0)::vector
              FROM generate_series(0, %(n)s - 1) AS o
            """,
            {"t": tenant_id, "a": app_id, "d": document, "n": count, "topics": topics},
        )


def exact_top(conn, vector: list[float], k: int = 10) -> list[tuple[object, int]]:
    rows = conn.execute(
        "SELECT document_id, ordinal, embedding::text AS e FROM ai.knowledge_chunks"
    ).fetchall()

    def distance(text: str) -> float:
        other = [float(x) for x in text.strip("[]").split(",")]
        dot = sum(x * y for x, y in zip(vector, other, strict=True))
        return 1 - dot / (
            math.sqrt(sum(x * x for x in vector)) * math.sqrt(sum(y * y for y in other))
        )

    ranked = sorted(rows, key=lambda r: (distance(r["e"]), str(r["document_id"]), r["ordinal"]))
    return [(r["document_id"], r["ordinal"]) for r in ranked[:k]]


async def test_a_tiny_tenant_among_big_ones_gets_its_exact_nearest_chunks(
    client, db, urls, signer
) -> None:
    app, big, tiny = await tiny_among_big(db, urls)
    # Scopes above 500 chunks take an HNSW index, as the big tenants here do.
    service = KnowledgeService(KnowledgeSettings(exact_search_max_chunks=500))
    assert await recall(db, urls, signer, service, tiny, app, "exact") == 1.0
    assert await recall(db, urls, signer, service, big[0], app, "shared_index") >= 0.9
    # The tiny tenant's search never sees the big tenants' chunks, whatever it asks.
    async with db.tenant_transaction(TenantContext(tiny.id, app, read_only=True)) as tx:
        assert (await repository.scope_statistics(tx)).chunks == 15


async def test_maintenance_gives_each_large_scope_its_own_index(client, db, urls, signer) -> None:
    app, big, tiny = await tiny_among_big(db, urls)
    threshold = {"TENANTRY_EXACT_SEARCH_MAX_CHUNKS": "500"}
    done = tenantry(urls, "db", "maintain", env=threshold)
    assert done.returncode == 0, done.stderr
    assert "workloads: " in done.stdout
    names = {t.id: scope_index_name(urls, t.id, app) for t in (*big, tiny)}
    assert set(existing_indexes(urls)) >= {names[t.id] for t in big}
    assert names[tiny.id] not in existing_indexes(urls)  # searched exactly, needs none

    service = KnowledgeService(KnowledgeSettings(exact_search_max_chunks=500))
    assert await recall(db, urls, signer, service, big[0], app, "scope_index") >= 0.95
    assert await recall(db, urls, signer, service, tiny, app, "exact") == 1.0
    # The plan, as the runtime role in the big tenant's context: its own index.
    async with db.tenant_transaction(TenantContext(big[0].id, app, read_only=True)) as tx:
        statistics = await repository.scope_statistics(tx)
        assert statistics.own_index
        await tx.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        await tx.execute("SET LOCAL enable_sort = off")
        plan = await tx.fetch_all(
            "EXPLAIN SELECT c.ordinal FROM ai.knowledge_chunks c"
            " WHERE c.tenant_id = %s AND c.app_id = %s"
            " ORDER BY c.embedding <=> (SELECT embedding FROM ai.knowledge_chunks LIMIT 1)"
            " LIMIT 10",
            [big[0].id, app],
        )
    assert names[big[0].id] in "\n".join(row["QUERY PLAN"] for row in plan)

    # Naming another scope's tenant (to reach its index) finds nothing: the policy still holds.
    async with db.tenant_transaction(TenantContext(tiny.id, app, read_only=True)) as tx:
        mine = await repository.scope_statistics(tx)
        forged = replace(mine, tenant_id=big[0].id, own_index=True)
        vector = repository.vector_literal([1.0] * 384)
        stolen = await repository.nearest_approximate(
            tx, forged, vector, 10, ef_search=100, max_scan_tuples=1000
        )
    assert stolen == []

    # A scope that shrank below half the threshold loses its index; the others keep theirs.
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        conn.execute("DELETE FROM ai.knowledge_documents WHERE tenant_id = %s", [big[1].id])
    again = tenantry(urls, "db", "maintain", env=threshold)
    assert again.returncode == 0, again.stderr
    left = existing_indexes(urls)
    assert names[big[1].id] not in left
    assert {names[big[0].id], names[big[2].id]} <= set(left)
    audit = tenantry(urls, "audit-db")
    assert audit.returncode == 0, audit.stdout + audit.stderr


async def tiny_among_big(db, urls) -> tuple[object, list[Tenant], Tenant]:
    """Three tenants of 1,500 chunks and one of 15, sharing their topics."""
    with psycopg.connect(urls.admin) as conn:
        if conn.execute("SELECT to_regtype('vector') IS NULL").fetchone()[0]:
            pytest.skip("no pgvector on this server: there is no approximate index to lose rows")
    app = db_app(urls)
    big = [await make_tenant(db, "thinktank") for _ in range(3)]
    tiny = await make_tenant(db, "thinktank")
    for tenant in big:
        seed_chunks(urls, tenant.id, app, 1500)
    seed_chunks(urls, tiny.id, app, 15)
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        conn.execute("ANALYZE ai.knowledge_chunks")
    return app, big, tiny


async def recall(db, urls, signer, service, tenant, app, strategy: str) -> float:
    """Mean recall@10 of 8 vector searches near the tenant's own chunks, each by `strategy`."""
    rng = random.Random(5)
    context = TenantContext(tenant.id, app, read_only=True)
    recalls = []
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        conn.execute(
            "SELECT set_config('tenantry.context', %s, false)", [signer.sign_tenant(context)]
        )
        for _ in range(8):
            seen = conn.execute(
                "SELECT embedding::text AS e FROM ai.knowledge_chunks ORDER BY random() LIMIT 1"
            ).fetchone()["e"]
            query = [float(x) + rng.gauss(0, 0.2) for x in seen.strip("[]").split(",")]
            want = exact_top(conn, query)
            async with db.tenant_transaction(context) as tx:
                stats = await repository.scope_statistics(tx)
                result = await service.search_embedded(
                    tx, "bulk", query, SearchMode.VECTOR, 10, stats
                )
            assert result.strategy == strategy
            got = [(h.document_id, h.ordinal) for h in result.hits]
            assert len(got) == min(10, stats.chunks)  # a full page, whatever the policy filtered
            assert {g[0] for g in got} <= {w[0] for w in want}  # only the tenant's own
            recalls.append(len(set(got) & set(want)) / 10)
    return sum(recalls) / len(recalls)


def scope_index_name(urls, tenant_id, app_id) -> str:
    with psycopg.connect(urls.admin) as conn:
        return conn.execute(
            "SELECT 'knowledge_chunks_scope_' || left(md5(%s::uuid::text || '/' || %s::uuid::text), 24)",
            [tenant_id, app_id],
        ).fetchone()[0]


def existing_indexes(urls) -> list[str]:
    with psycopg.connect(urls.admin) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'ai'"
            " AND tablename = 'knowledge_chunks'"
        ).fetchall()
    return [r[0] for r in rows]
