"""The knowledge use cases: add, list and delete documents, and search them.

Each runs in the caller's transaction (the route's `Scoped.tx`), so row-level security keeps it
in the caller's tenant and app; nothing here names a tenant to filter by.

Search, in three steps:
1. the scope's statistics (chunks, lexeme positions, the embedding column's size) from one
   index-only scan; they choose the plan and weigh BM25;
2. the rankings: the vector one exact for scopes of at most `exact_search_max_chunks` chunks
   (every chunk measured: nothing lost to the policy, and cheap at that size), above through
   the scope's own HNSW index (a partial index of its chunks, built by `tenantry db
   maintain`), or until it exists through the table's shared HNSW index with iterative scans;
   the full-text one by BM25 over the terms table;
3. reciprocal rank fusion (hybrid), the page, and its titles and snippets in one statement.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tenantry.library import InvalidInput, NotFound, TenantryError, uuid7
from tenantry.library.knowledge import KnowledgeSettings, knowledge_settings
from tenantry.workloads.knowledge import repository
from tenantry.workloads.knowledge.chunking import DEFAULT_POLICY, ChunkingPolicy, split_into_chunks
from tenantry.workloads.knowledge.fusion import reciprocal_rank_fusion
from tenantry.workloads.knowledge.models import (
    Author,
    ChunkKey,
    Document,
    Ranked,
    ScopeStatistics,
    SearchHit,
    SearchMode,
    SearchResult,
    VectorSearchUnavailable,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from tenantry.library import Transaction
    from tenantry.workloads.knowledge.embedders import Embedder

MAX_CHUNKS_PER_DOCUMENT = 2_000
# Each ranking hands this many candidates to the fusion (or the page size, if larger).
FUSION_DEPTH = 50


class EmbedderMismatch(TenantryError):
    """The configured embedder's vectors do not fit the installation's embedding column."""

    code = "embedder_mismatch"
    status = 500


@dataclass(frozen=True, slots=True)
class NewDocument:
    title: str
    content: str
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KnowledgeService:
    settings: KnowledgeSettings = field(default_factory=knowledge_settings)
    chunking: ChunkingPolicy = DEFAULT_POLICY

    async def add_document(
        self, tx: Transaction, author: Author, embedder: Embedder, new: NewDocument
    ) -> tuple[Document, bool]:
        """The document, chunked, embedded and indexed in `tx`; True if it was new, False (and
        the stored one) when the app already holds the same content."""
        chunks = split_into_chunks(new.content, self.chunking)
        if not chunks:
            raise InvalidInput("content: the document has no words")
        if len(chunks) > MAX_CHUNKS_PER_DOCUMENT:
            raise InvalidInput(f"content: more than {MAX_CHUNKS_PER_DOCUMENT} chunks; split it")
        dimensions = await repository.embedding_dimensions(tx)
        if dimensions is not None and embedder.dimensions != dimensions:
            raise EmbedderMismatch(
                f"the {embedder.name} embedder makes {embedder.dimensions}-dimensional vectors; "
                f"this installation stores {dimensions}"
            )
        digest = hashlib.sha256(new.content.encode()).digest()
        document = await repository.insert_document(
            tx,
            tenant_id=author.tenant_id,
            app_id=author.app_id,
            document_id=uuid7(),
            title=new.title,
            source=new.source,
            content_sha256=digest,
            content_length=len(new.content),
            status="ready" if dimensions is not None else "text_only",
            chunk_count=len(chunks),
            embedder=embedder.name if dimensions is not None else None,
            metadata=new.metadata,
            created_by=author.user_id,
        )
        if document is None:
            existing = await repository.document_with_content(tx, digest)
            assert existing is not None  # the conflict was with a row of this scope
            return existing, False
        # Embedded after the insert, so a duplicate costs no embedding; the price is a
        # transaction open while the embedder runs (one connection per ingestion under way).
        embeddings = await embedder.embed(chunks) if dimensions is not None else None
        await repository.insert_chunks(
            tx, author.tenant_id, author.app_id, document.id, chunks, embeddings
        )
        await repository.index_terms(tx, author.tenant_id, author.app_id, document.id)
        return document, True

    async def document(self, tx: Transaction, document_id: UUID) -> Document:
        found = await repository.get_document(tx, document_id)
        if found is None:
            raise NotFound("no such document")
        return found

    async def documents(self, tx: Transaction, before: UUID | None, limit: int) -> list[Document]:
        return await repository.list_documents(tx, before, limit)

    async def delete_document(self, tx: Transaction, document_id: UUID) -> None:
        if not await repository.delete_document(tx, document_id):
            raise NotFound("no such document")

    async def search(
        self,
        tx: Transaction,
        embedder: Embedder,
        query: str,
        mode: SearchMode | None = None,
        limit: int = 10,
    ) -> SearchResult:
        """The `limit` best chunks of the caller's app for `query`. Without a mode: hybrid
        where the server has pgvector, else full-text."""
        statistics = await repository.scope_statistics(tx)
        mode = self._mode(mode, statistics)
        vector = None
        if mode is not SearchMode.FULLTEXT and statistics.chunks:
            (vector,) = await embedder.embed([query])
        return await self.search_embedded(tx, query, vector, mode, limit, statistics)

    async def search_embedded(
        self,
        tx: Transaction,
        query: str,
        vector: Sequence[float] | None,
        mode: SearchMode,
        limit: int,
        statistics: ScopeStatistics,
    ) -> SearchResult:
        """`search` with the query already embedded (benchmarks bring their own vectors)."""
        if not statistics.chunks:
            return SearchResult(mode, "none", [])
        depth = limit if mode is not SearchMode.HYBRID else max(FUSION_DEPTH, limit)
        nearest: list[Ranked] = []
        strategy = "none"
        if mode is not SearchMode.FULLTEXT:
            assert vector is not None
            strategy, nearest = await self._nearest(tx, vector, depth, statistics)
        matching: list[Ranked] = []
        if mode is not SearchMode.VECTOR:
            matching = await repository.fulltext_ranking(tx, query, depth, statistics)
        page = _page(mode, nearest, matching, limit)
        details = await repository.chunk_details(tx, [key for key, _ in page], query)
        by_vector = {r.key: r for r in nearest}
        by_text = {r.key: r for r in matching}
        hits = [
            _hit(details[key], score, by_vector.get(key), by_text.get(key))
            for key, score in page
            if key in details  # deleted since it was ranked, in a concurrent transaction
        ]
        return SearchResult(mode, strategy, hits)

    def _mode(self, requested: SearchMode | None, statistics: ScopeStatistics) -> SearchMode:
        if statistics.dimensions is not None:
            return requested or SearchMode.HYBRID
        if requested in {SearchMode.VECTOR, SearchMode.HYBRID}:
            raise VectorSearchUnavailable(
                f"{requested} search needs the pgvector extension, which this database "
                "server does not have; full-text search works (mode=fulltext)"
            )
        return SearchMode.FULLTEXT

    async def _nearest(
        self, tx: Transaction, vector: Sequence[float], depth: int, statistics: ScopeStatistics
    ) -> tuple[str, list[Ranked]]:
        if statistics.dimensions != len(vector):
            raise EmbedderMismatch(
                f"a {len(vector)}-dimensional query vector; this installation stores "
                f"{statistics.dimensions}"
            )
        literal = repository.vector_literal(vector)
        if statistics.chunks <= self.settings.exact_search_max_chunks:
            return "exact", await repository.nearest_exact(tx, literal, depth)
        found = await repository.nearest_approximate(
            tx,
            statistics,
            literal,
            depth,
            ef_search=max(self.settings.hnsw_ef_search, depth),
            max_scan_tuples=self.settings.hnsw_max_scan_tuples,
        )
        return ("scope_index" if statistics.own_index else "shared_index"), found


def _page(
    mode: SearchMode, nearest: list[Ranked], matching: list[Ranked], limit: int
) -> list[tuple[ChunkKey, float]]:
    if mode is SearchMode.VECTOR:
        return [(r.key, 1.0 - r.score) for r in nearest[:limit]]
    if mode is SearchMode.FULLTEXT:
        return [(r.key, r.score) for r in matching[:limit]]
    fused = reciprocal_rank_fusion([[r.key for r in nearest], [r.key for r in matching]])
    return fused[:limit]


def _hit(
    row: dict[str, Any], score: float, vector: Ranked | None, text: Ranked | None
) -> SearchHit:
    return SearchHit(
        document_id=row["document_id"],
        title=row["title"],
        source=row["source"],
        ordinal=row["ordinal"],
        snippet=row["snippet"],
        score=score,
        vector_similarity=None if vector is None else 1.0 - vector.score,
        vector_rank=None if vector is None else vector.rank,
        fulltext_score=None if text is None else text.score,
        fulltext_rank=None if text is None else text.rank,
    )
