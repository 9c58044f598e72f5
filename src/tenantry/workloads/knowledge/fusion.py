"""Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009).

Each ranking gives an item 1 / (k + rank); an item's fused score is the sum over the rankings
it is in. Scores of different kinds (a cosine distance, a BM25 score) need no calibration,
since only ranks count; k = 60 damps the weight of the very first places, as in the paper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence

K = 60
T = TypeVar("T", bound="Hashable")


def reciprocal_rank_fusion(rankings: Sequence[Sequence[T]], k: int = K) -> list[tuple[T, float]]:
    """Items of every ranking (best first), fused, best first; ties keep first-seen order."""
    scores: dict[T, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
