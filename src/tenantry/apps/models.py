"""The apps catalog's domain type, shared by every feature that names an app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uuid import UUID


@dataclass(frozen=True, slots=True)
class App:
    id: UUID
    slug: str
    name: str
    status: str

    @property
    def active(self) -> bool:
        return self.status == "active"
