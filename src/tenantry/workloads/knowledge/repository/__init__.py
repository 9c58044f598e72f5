"""Every SQL statement of the knowledge workload. Row-level security scopes each one to the
transaction's tenant and app; only writes and the approximate search name them (to say whose
rows, and to let the planner match a scope's own index), with the context's own values.

Plans, read as the runtime role in a signed context (docs/knowledge.md):
- a scope's statistics: an index-only scan of (tenant, app, chunk_count, term_count);
- exact vector search: the scope's range of the chunks' key, every distance, a sort; the
  MATERIALIZED CTE keeps the planner off the HNSW index, which would filter the whole table;
- approximate vector search: the scope's own HNSW index (a partial index of its chunks) where
  `tenantry db maintain` built one, else the shared HNSW index with iterative scans (the
  policy filters what the index yields; the scan goes on until the page is full or
  `max_scan_tuples`);
- full-text: the query's lexemes looked up in (tenant, app, lexeme, ...), scored by BM25 from
  the index alone.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, LiteralString

from tenantry.workloads.knowledge.models import ChunkKey, Document, Ranked, ScopeStatistics
from tenantry.workloads.knowledge.repository.maintenance import SCOPE_INDEX_OF_CONTEXT

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from tenantry.library import Transaction

# The text search configuration of the stored tsvector (migration w0003).
CONFIG: LiteralString = "english"
# BM25's term-frequency saturation and length normalisation, the usual values.
K1 = 1.2
B = 0.75

_DOCUMENT: LiteralString = (
    "id, title, source, status, chunk_count, content_length, embedder, metadata, created_by, "
    "created_at, updated_at"
)


def vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form, `[x,y,...]`."""
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


async def scope_statistics(tx: Transaction) -> ScopeStatistics:
    row = await tx.fetch_one(
        f"""
        SELECT s.tenant_id, s.app_id, d.chunks, d.terms,
               (SELECT nullif(a.atttypmod, -1) FROM pg_attribute a
                 WHERE a.attrelid = 'ai.knowledge_chunks'::regclass AND a.attname = 'embedding'
                   AND NOT a.attisdropped) AS dimensions,
               EXISTS (SELECT FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
                        WHERE i.indrelid = 'ai.knowledge_chunks'::regclass AND i.indisvalid
                          AND x.relname = {SCOPE_INDEX_OF_CONTEXT})
                   AS own_index
          FROM tenantry.current_scope s,
               (SELECT coalesce(sum(chunk_count), 0)::bigint AS chunks,
                       coalesce(sum(term_count), 0)::bigint AS terms
                  FROM ai.knowledge_documents) AS d
        """
    )
    assert row is not None
    return ScopeStatistics(**row)


async def embedding_dimensions(tx: Transaction) -> int | None:
    """The embedding column's size, None where the server has no pgvector."""
    row = await tx.fetch_one(
        "SELECT nullif(a.atttypmod, -1) AS dimensions FROM pg_attribute a"
        " WHERE a.attrelid = 'ai.knowledge_chunks'::regclass AND a.attname = 'embedding'"
        "   AND NOT a.attisdropped"
    )
    return None if row is None else row["dimensions"]


async def insert_document(
    tx: Transaction,
    *,
    tenant_id: UUID,
    app_id: UUID,
    document_id: UUID,
    title: str,
    source: str | None,
    content_sha256: bytes,
    content_length: int,
    status: str,
    chunk_count: int,
    embedder: str | None,
    metadata: dict[str, Any],
    created_by: UUID | None,
) -> Document | None:
    """Insert the document; None when the app already has one with the same content."""
    row = await tx.fetch_one(
        "INSERT INTO ai.knowledge_documents (tenant_id, app_id, id, title, source,"
        " content_sha256, content_length, status, chunk_count, embedder, metadata, created_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"
        f" ON CONFLICT (tenant_id, app_id, content_sha256) DO NOTHING RETURNING {_DOCUMENT}",
        [
            tenant_id,
            app_id,
            document_id,
            title,
            source,
            content_sha256,
            content_length,
            status,
            chunk_count,
            embedder,
            json.dumps(metadata, separators=(",", ":")),
            created_by,
        ],
    )
    return None if row is None else Document(**row)


async def document_with_content(tx: Transaction, content_sha256: bytes) -> Document | None:
    row = await tx.fetch_one(
        f"SELECT {_DOCUMENT} FROM ai.knowledge_documents WHERE content_sha256 = %s",
        [content_sha256],
    )
    return None if row is None else Document(**row)


async def insert_chunks(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    document_id: UUID,
    contents: Sequence[str],
    embeddings: Sequence[Sequence[float]] | None,
) -> None:
    """All of a document's chunks in one statement (ordinals from 0), with their embeddings
    where the table has the column. (RETURNING keeps Citus from a COPY into the shard, which
    row-level security refuses.)"""
    if embeddings is None:
        await tx.execute(
            "INSERT INTO ai.knowledge_chunks (tenant_id, app_id, document_id, ordinal, content)"
            " SELECT %s, %s, %s, c.n - 1, c.content"
            " FROM unnest(%s::text[]) WITH ORDINALITY AS c(content, n) RETURNING ordinal",
            [tenant_id, app_id, document_id, list(contents)],
        )
        return
    await tx.execute(
        "INSERT INTO ai.knowledge_chunks"
        " (tenant_id, app_id, document_id, ordinal, content, embedding)"
        " SELECT %s, %s, %s, c.n - 1, c.content, c.embedding::vector"
        " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS c(content, embedding, n)"
        " RETURNING ordinal",
        [tenant_id, app_id, document_id, list(contents), [vector_literal(e) for e in embeddings]],
    )


async def index_terms(tx: Transaction, tenant_id: UUID, app_id: UUID, document_id: UUID) -> None:
    """The document's postings, from its chunks' stored tsvectors, and its term count. Every
    table is named by tenant and app, so Citus runs the statement whole on the tenant's shard."""
    await tx.execute(
        """
        WITH chunk AS (
            SELECT c.tenant_id, c.app_id, c.document_id, c.ordinal, c.search,
                   (SELECT coalesce(sum(cardinality(u.positions)), 0)
                      FROM unnest(c.search) AS u)::integer AS terms
              FROM ai.knowledge_chunks c
             WHERE c.tenant_id = %(tenant)s AND c.app_id = %(app)s
               AND c.document_id = %(document)s
        ), posted AS (
            INSERT INTO ai.knowledge_terms
                (tenant_id, app_id, document_id, ordinal, lexeme, frequency, chunk_terms)
            SELECT c.tenant_id, c.app_id, c.document_id, c.ordinal, u.lexeme,
                   cardinality(u.positions), c.terms
              FROM chunk c CROSS JOIN LATERAL unnest(c.search) AS u
             WHERE c.terms > 0
            RETURNING 1
        )
        UPDATE ai.knowledge_documents
           SET term_count = (SELECT coalesce(sum(terms), 0) FROM chunk)
         WHERE tenant_id = %(tenant)s AND app_id = %(app)s AND id = %(document)s
        """,
        {"tenant": tenant_id, "app": app_id, "document": document_id},
    )


async def get_document(tx: Transaction, document_id: UUID) -> Document | None:
    row = await tx.fetch_one(
        f"SELECT {_DOCUMENT} FROM ai.knowledge_documents WHERE id = %s", [document_id]
    )
    return None if row is None else Document(**row)


async def list_documents(tx: Transaction, before: UUID | None, limit: int) -> list[Document]:
    """Newest first (ids are UUIDv7), from `before` (exclusive): a walk of the key."""
    if before is None:
        rows = await tx.fetch_all(
            f"SELECT {_DOCUMENT} FROM ai.knowledge_documents ORDER BY id DESC LIMIT %s", [limit]
        )
    else:
        rows = await tx.fetch_all(
            f"SELECT {_DOCUMENT} FROM ai.knowledge_documents WHERE id < %s"
            " ORDER BY id DESC LIMIT %s",
            [before, limit],
        )
    return [Document(**row) for row in rows]


async def delete_document(tx: Transaction, document_id: UUID) -> bool:
    """Delete the document; its chunks and their terms go with it (cascade)."""
    cursor = await tx.execute("DELETE FROM ai.knowledge_documents WHERE id = %s", [document_id])
    return cursor.rowcount == 1


async def nearest_exact(tx: Transaction, vector: str, limit: int) -> list[Ranked]:
    """The scope's `limit` nearest chunks by cosine distance, every chunk measured."""
    rows = await tx.fetch_all(
        """
        WITH scope AS MATERIALIZED (
            SELECT c.document_id, c.ordinal, c.embedding <=> %(vector)s::vector AS distance
              FROM ai.knowledge_chunks c
        )
        SELECT document_id, ordinal, distance FROM scope
         ORDER BY distance, document_id, ordinal LIMIT %(limit)s
        """,
        {"vector": vector, "limit": limit},
    )
    return _ranked(rows, "distance")


async def nearest_approximate(
    tx: Transaction,
    statistics: ScopeStatistics,
    vector: str,
    limit: int,
    *,
    ef_search: int,
    max_scan_tuples: int,
) -> list[Ranked]:
    """The scope's `limit` nearest chunks through an HNSW index.

    The scope's own index, where it has one, holds its chunks only. The shared index yields
    the whole table's nearest chunks and the policy keeps the scope's; iterative scans
    (pgvector 0.8) go on searching the graph until `limit` rows passed the policy or
    `max_scan_tuples` were visited. `relaxed_order` lets batches come slightly out of order;
    the outer query sorts them again."""
    # The statement names its tenant and app (the policy's own values) so that the planner
    # can match the scope's partial index, which it does in a custom plan only. It would
    # also rather sort the scope's chunks than walk an index when it misjudges the scope's
    # size; callers come here for large scopes only, so the sort is priced out.
    await tx.execute(
        "SELECT set_config('hnsw.ef_search', %s, true),"
        " set_config('hnsw.iterative_scan', 'relaxed_order', true),"
        " set_config('hnsw.max_scan_tuples', %s, true),"
        " set_config('plan_cache_mode', 'force_custom_plan', true),"
        " set_config('enable_sort', 'off', true)",
        [str(ef_search), str(max_scan_tuples)],
    )
    rows = await tx.fetch_all(
        """
        WITH nearest AS MATERIALIZED (
            SELECT c.document_id, c.ordinal, c.embedding <=> %(vector)s::vector AS distance
              FROM ai.knowledge_chunks c
             WHERE c.tenant_id = %(tenant)s AND c.app_id = %(app)s
             ORDER BY c.embedding <=> %(vector)s::vector
             LIMIT %(limit)s
        )
        SELECT document_id, ordinal, distance FROM nearest ORDER BY distance, document_id, ordinal
        """,
        {
            "vector": vector,
            "limit": limit,
            "tenant": statistics.tenant_id,
            "app": statistics.app_id,
        },
    )
    await tx.execute(
        "SELECT set_config('enable_sort', 'on', true), set_config('plan_cache_mode', 'auto', true)"
    )
    return _ranked(rows, "distance")


async def fulltext_ranking(
    tx: Transaction, query: str, limit: int, statistics: ScopeStatistics
) -> list[Ranked]:
    """The scope's `limit` best chunks for `query` by BM25 over its lexemes (any of them).

    Postings come from an index-only scan of (tenant, app, lexeme, ...); a lexeme's document
    frequency is the length of its postings in the scope."""
    rows = await tx.fetch_all(
        f"""
        WITH postings AS MATERIALIZED (
            SELECT p.lexeme, p.document_id, p.ordinal, p.frequency, p.chunk_terms
              FROM ai.knowledge_terms p
             WHERE p.lexeme = ANY (ARRAY(
                   SELECT DISTINCT u.lexeme FROM unnest(to_tsvector('{CONFIG}', %(query)s)) AS u))
        ), weights AS (
            SELECT lexeme, ln(1 + (%(chunks)s - count(*) + 0.5) / (count(*) + 0.5)) AS idf
              FROM postings GROUP BY lexeme
        )
        SELECT p.document_id, p.ordinal,
               sum(w.idf * p.frequency * ({K1} + 1)
                   / (p.frequency + {K1} * (1 - {B} + {B} * p.chunk_terms / %(average)s)))
                   AS score
          FROM postings p JOIN weights w USING (lexeme)
         GROUP BY p.document_id, p.ordinal
         ORDER BY score DESC, p.document_id, p.ordinal
         LIMIT %(limit)s
        """,
        {
            "query": query,
            "chunks": float(statistics.chunks),
            "average": max(statistics.average_chunk_terms, 1.0),
            "limit": limit,
        },
    )
    return _ranked(rows, "score")


async def chunk_details(
    tx: Transaction, keys: Sequence[ChunkKey], query: str
) -> dict[ChunkKey, dict[str, Any]]:
    """Title, source and a snippet (the passages with the most of `query`'s words, else the
    chunk's start) of each chunk, by its key."""
    rows = await tx.fetch_all(
        f"""
        SELECT c.document_id, c.ordinal, d.title, d.source,
               ts_headline('{CONFIG}', c.content, q.any_word,
                           'MaxWords=40, MinWords=15, MaxFragments=2, FragmentDelimiter=" … ",
                            StartSel="", StopSel=""') AS snippet
          FROM unnest(%(documents)s::uuid[], %(ordinals)s::integer[]) AS k(document_id, ordinal)
          -- Any of the query's lexemes, as the BM25 ranking counts them (not all, as
          -- plainto_tsquery would ask).
          CROSS JOIN (
              SELECT coalesce(string_agg(quote_literal(u.lexeme), ' | '), '')::tsquery AS any_word
                FROM unnest(to_tsvector('{CONFIG}', %(query)s)) AS u
          ) AS q
          JOIN ai.knowledge_chunks c ON (c.document_id, c.ordinal) = (k.document_id, k.ordinal)
          JOIN ai.knowledge_documents d ON d.app_id = c.app_id AND d.id = c.document_id
        """,
        {
            "query": query,
            "documents": [k.document_id for k in keys],
            "ordinals": [k.ordinal for k in keys],
        },
    )
    return {ChunkKey(row["document_id"], row["ordinal"]): row for row in rows}


def _ranked(rows: Sequence[dict[str, Any]], score: str) -> list[Ranked]:
    return [
        Ranked(ChunkKey(row["document_id"], row["ordinal"]), rank, float(row[score]))
        for rank, row in enumerate(rows, start=1)
    ]
