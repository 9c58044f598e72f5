"""Embedders: text in, vectors of the installation's dimension out.

- `HashingEmbedder` (the default, `TENANTRY_EMBEDDER=hashing`): lexical feature hashing, no
  dependency and no model; fast and deterministic, but it knows words, not meanings.
- `MiniLMEmbedder` (`minilm`): all-MiniLM-L6-v2 on the CPU, offline, from the optional extra
  `tenantry[embeddings]`.
- `HttpEmbedder` (`http`): any OpenAI-compatible `POST {base_url}/embeddings` service.

`embedder_from(settings)` builds the configured one; anything with the `Embedder` shape can be
passed to the knowledge service instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.workloads.knowledge.embedders.base import Embedder, EmbedderFailed
from tenantry.workloads.knowledge.embedders.hashing import HashingEmbedder
from tenantry.workloads.knowledge.embedders.http import HttpEmbedder

if TYPE_CHECKING:
    from tenantry.library.knowledge import KnowledgeSettings

__all__ = ["Embedder", "EmbedderFailed", "HashingEmbedder", "HttpEmbedder", "embedder_from"]


def embedder_from(settings: KnowledgeSettings) -> Embedder:
    """The embedder `settings` name, producing `settings.embedding_dimensions`-sized vectors."""
    if settings.embedder == "http":
        return HttpEmbedder(
            base_url=settings.embedder_url,
            model=settings.embedder_model,
            dimensions=settings.embedding_dimensions,
            api_key=settings.embedder_api_key.get_secret_value(),
            batch_size=settings.embedder_batch_size,
            timeout_seconds=settings.embedder_timeout_seconds,
        )
    if settings.embedder == "minilm":
        from tenantry.workloads.knowledge.embedders.minilm import MiniLMEmbedder  # noqa: PLC0415 - the optional extra loads only when chosen

        embedder: Embedder = MiniLMEmbedder(batch_size=settings.embedder_batch_size)
    else:
        embedder = HashingEmbedder(settings.embedding_dimensions)
    if embedder.dimensions != settings.embedding_dimensions:
        raise EmbedderFailed(
            f"the {embedder.name} embedder makes {embedder.dimensions}-dimensional vectors, "
            f"but TENANTRY_EMBEDDING_DIMENSIONS is {settings.embedding_dimensions}"
        )
    return embedder
