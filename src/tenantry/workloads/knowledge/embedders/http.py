"""An OpenAI-compatible embedding service: `POST {base_url}/embeddings`.

    {"model": "...", "input": ["text", ...], "dimensions": 384, "encoding_format": "float"}
    -> {"data": [{"index": 0, "embedding": [...]}, ...]}

Texts go in batches of `batch_size`; the answer's `index` puts the vectors back in order. The
installation's dimension is asked for with `dimensions` (models that can shorten their vectors,
such as OpenAI's text-embedding-3, honour it) and checked on every vector received.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from tenantry.workloads.knowledge.embedders.base import EmbedderFailed

if TYPE_CHECKING:
    from collections.abc import Sequence


class HttpEmbedder:
    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        dimensions: int,
        api_key: str = "",
        batch_size: int = 64,
        timeout_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise EmbedderFailed("the HTTP embedder needs TENANTRY_EMBEDDER_URL (http or https)")
        if not model:
            raise EmbedderFailed("the HTTP embedder needs TENANTRY_EMBEDDER_MODEL")
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._dimensions = dimensions
        self._batch_size = batch_size
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            headers=headers, timeout=timeout_seconds, transport=transport
        )

    @property
    def name(self) -> str:
        return f"http:{self._model}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            vectors += await self._batch(list(texts[start : start + self._batch_size]))
        return vectors

    async def close(self) -> None:
        await self._client.aclose()

    async def _batch(self, texts: list[str]) -> list[list[float]]:
        body = {
            "model": self._model,
            "input": texts,
            "dimensions": self._dimensions,
            "encoding_format": "float",
        }
        try:
            response = await self._client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise EmbedderFailed(f"the embedding service is unreachable: {exc}") from exc
        if response.status_code != 200:  # noqa: PLR2004 - the one success answer
            raise EmbedderFailed(
                f"the embedding service answered {response.status_code}: {response.text[:200]}"
            )
        try:
            return self._vectors(response.json(), len(texts))
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbedderFailed(f"the embedding service answered nonsense: {exc}") from exc

    def _vectors(self, answer: dict[str, Any], expected: int) -> list[list[float]]:
        data = sorted(answer["data"], key=lambda item: int(item["index"]))
        if [int(item["index"]) for item in data] != list(range(expected)):
            raise ValueError(f"expected {expected} embeddings, one per input")
        vectors = [[float(x) for x in item["embedding"]] for item in data]
        for vector in vectors:
            if len(vector) != self._dimensions:
                raise ValueError(
                    f"a {len(vector)}-dimensional embedding, not {self._dimensions} "
                    "(does the model accept `dimensions`?)"
                )
        return vectors
