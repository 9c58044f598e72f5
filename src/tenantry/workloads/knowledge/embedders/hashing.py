"""The default embedder: lexical feature hashing (no model, no dependency).

Each text's words (lower-cased, letters and digits) and the pairs of adjacent words are hashed
(CRC-32) into `dimensions` buckets with a hashed sign, weighted by 1 + log(count), and the
vector is normalised to unit length. Texts sharing words, and word pairs, get close vectors; it
is a bag of words in a fixed-size vector, in the manner of scikit-learn's HashingVectorizer.

What it is not: a semantic model. It does not know that "car" and "automobile" mean the same,
nor any other language than spelling. It exists so that `make up`, the tests and small
installations have working vector search (and hybrid ranking) without downloading or
installing a model; choose `minilm` or an HTTP embedding service for semantic search.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

_WORD = re.compile(r"[^\W_]+")


class HashingEmbedder:
    def __init__(self, dimensions: int = 384) -> None:
        if dimensions < 2:  # noqa: PLR2004 - one bucket cannot tell texts apart
            raise ValueError("dimensions must be at least 2")
        self._dimensions = dimensions

    @property
    def name(self) -> str:
        return f"hashing-{self._dimensions}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector(text) for text in texts]

    def vector(self, text: str) -> list[float]:
        words = _WORD.findall(text.lower())
        features = Counter(words)
        features.update(f"{a} {b}" for a, b in itertools.pairwise(words))
        vector = [0.0] * self._dimensions
        for feature, count in features.items():
            digest = zlib.crc32(feature.encode())
            weight = 1.0 + math.log(count)
            # The low bits pick the bucket, the top bit the sign: collisions cancel out on
            # average instead of piling up.
            vector[digest % self._dimensions] += -weight if digest >> 31 else weight
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0.0:
            # No words at all: a fixed unit vector, so the distance to it is defined.
            vector[0] = 1.0
            return vector
        return [v / norm for v in vector]
