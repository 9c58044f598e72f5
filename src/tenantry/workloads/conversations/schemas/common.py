"""Shapes every list shares, and the limits of free-form JSON."""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator

T = TypeVar("T")

# A name people read: trimmed, not blank.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# The most bytes a free-form JSON object (widget config, preference extras) may take.
MAX_OBJECT_BYTES = 16384


def _small_object(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_OBJECT_BYTES:
        raise ValueError(f"at most {MAX_OBJECT_BYTES} bytes of JSON")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_small_object)]


class Page(BaseModel, Generic[T]):
    """One page of a keyset-paginated list: pass `next_cursor` back as `cursor` for the next
    page; `null` means this was the last one."""

    items: list[T]
    next_cursor: str | None


class Patch(BaseModel):
    """A partial update: the fields given replace the stored ones, the others stay. Only the
    fields in `NULLABLE` may be given as `null` (to clear them)."""

    model_config = ConfigDict(extra="forbid")
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _nulls_and_emptiness(self) -> Patch:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in self.model_fields_set - self.NULLABLE:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields given, as the repository writes them."""
        return self.model_dump(include=self.model_fields_set)
