"""What an embedder is, and the error it raises."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tenantry.library import TenantryError

if TYPE_CHECKING:
    from collections.abc import Sequence


class Embedder(Protocol):
    """Turns texts into vectors of `dimensions` floats, one per text, in order.

    `name` is recorded with each document, so a change of embedder (whose vectors are not
    comparable with the old ones) can be found and the documents embedded again."""

    @property
    def name(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class EmbedderFailed(TenantryError):
    """The embedder could not embed (unreachable, refused, or answered something unusable)."""

    code = "embedder_failed"
    status = 502
