"""The knowledge API's request and response bodies."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tenantry.workloads.knowledge.models import Document, SearchMode, SearchResult

METADATA_BYTES = 16_384


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    # About 200 pages of text; the request body limit (1 MiB) comes first for larger ones.
    content: str = Field(min_length=1, max_length=500_000)
    source: str | None = Field(default=None, max_length=2000, description="A URL or file name.")
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free JSON, kept with the document (16 KiB at most)."
    )

    @field_validator("title", "content", "source")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        # As the database writes it back (jsonb's text form), which its limit counts.
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        if "\\u0000" in text:
            raise ValueError("must not contain NUL characters")
        if len(text.encode()) > METADATA_BYTES:
            raise ValueError(f"must be at most {METADATA_BYTES} bytes as JSON")
        return value


class DocumentOut(BaseModel):
    id: UUID
    title: str
    source: str | None
    status: str = Field(
        description="`ready`: chunked and embedded; `text_only`: stored on a server without "
        "pgvector, found by full-text search only."
    )
    chunk_count: int
    content_length: int
    embedder: str | None
    metadata: dict[str, Any]
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, document: Document) -> DocumentOut:
        return cls.model_validate(document, from_attributes=True)


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


class HitOut(BaseModel):
    document_id: UUID
    title: str
    source: str | None
    ordinal: int = Field(description="The chunk's place in its document, from 0.")
    snippet: str
    score: float = Field(
        description="Hybrid: the reciprocal rank fusion score; vector: the cosine similarity; "
        "fulltext: the BM25 score."
    )
    vector_similarity: float | None
    vector_rank: int | None
    fulltext_score: float | None
    fulltext_rank: int | None


class SearchOut(BaseModel):
    mode: SearchMode
    strategy: str = Field(
        description="How the vector ranking was found: `exact` (every chunk of the app "
        "measured), `scope_index` (the app's own HNSW index), `shared_index` (the table's HNSW "
        "index, until the app's own is built), or `none`."
    )
    hits: list[HitOut]

    @classmethod
    def of(cls, result: SearchResult) -> SearchOut:
        return cls(
            mode=result.mode,
            strategy=result.strategy,
            hits=[HitOut.model_validate(hit, from_attributes=True) for hit in result.hits],
        )
