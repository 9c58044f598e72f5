"""The knowledge workload's domain types and errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenantry.library import InvalidInput

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID


class SearchMode(enum.StrEnum):
    VECTOR = "vector"
    FULLTEXT = "fulltext"
    # Reciprocal rank fusion of the vector and the full-text rankings.
    HYBRID = "hybrid"


class VectorSearchUnavailable(InvalidInput):
    """Vector (and so hybrid) search asked of a database server without pgvector."""

    code = "vector_search_unavailable"


@dataclass(frozen=True, slots=True)
class Author:
    """Whose knowledge base a document goes to (the transaction's tenant and app; row-level
    security refuses any other) and who added it (None for demo data and imports)."""

    tenant_id: UUID
    app_id: UUID
    user_id: UUID | None


@dataclass(frozen=True, slots=True)
class Document:
    id: UUID
    title: str
    source: str | None
    status: str
    chunk_count: int
    content_length: int
    embedder: str | None
    metadata: dict[str, Any]
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChunkKey:
    """A chunk is the `ordinal`-th (from 0) of its document."""

    document_id: UUID
    ordinal: int


@dataclass(frozen=True, slots=True)
class ScopeStatistics:
    """What search needs to know about the caller's app before it chooses a plan."""

    tenant_id: UUID
    app_id: UUID
    chunks: int
    terms: int
    # The embedding column's size; None where the server has no pgvector.
    dimensions: int | None
    # Whether the scope has its own HNSW index (built by `tenantry db maintain`).
    own_index: bool = False

    @property
    def average_chunk_terms(self) -> float:
        return self.terms / self.chunks if self.chunks else 0.0


@dataclass(frozen=True, slots=True)
class ScopeSize:
    """A scope's chunk count and the name its own HNSW index has (or would have)."""

    tenant_id: UUID
    app_id: UUID
    chunks: int
    index_name: str


@dataclass(frozen=True, slots=True)
class Ranked:
    """A chunk's place in one ranking (from 1) and that ranking's own score."""

    key: ChunkKey
    rank: int
    score: float


@dataclass(frozen=True, slots=True)
class SearchHit:
    document_id: UUID
    title: str
    source: str | None
    ordinal: int
    snippet: str
    score: float
    # Cosine similarity (1 - distance) and the full-text (BM25) score, where the chunk was in
    # that ranking's candidates; the final `score` is the fused one in hybrid mode.
    vector_similarity: float | None
    vector_rank: int | None
    fulltext_score: float | None
    fulltext_rank: int | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    mode: SearchMode
    # How the vector ranking was found: "exact", "scope_index" (the scope's own HNSW index),
    # "shared_index" (the table's HNSW index, filtered by the policy) or "none".
    strategy: str
    hits: list[SearchHit]
