"""Bounds for free-form JSON values (flag defaults and overrides, settings, …).

One limit for every boundary (HTTP, admin UI, CLI, library): at most `MAX_DEPTH` levels of
nesting and `MAX_BYTES` of compact JSON. Serializers give up on deep values (pydantic at 255
levels, Python's json module at the interpreter's recursion limit), so a value that is stored
must also stay readable; `readable()` keeps reads of values stored before the limit existed
from failing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator

from tenantry.kit.errors import InvalidInput

MAX_DEPTH = 32
MAX_BYTES = 64 * 1024


def depth(value: object) -> int:
    """Nesting depth of a JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_DEPTH:
            return deepest  # deep enough to refuse; no need to walk the rest
        stack.extend((child, level + 1) for child in children)
    return deepest


def problem(value: object) -> str | None:
    """Why `value` is refused, or None if it is within the bounds."""
    if depth(value) > MAX_DEPTH:
        return f"JSON values may be nested at most {MAX_DEPTH} levels deep"
    try:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError):
        return "not a JSON value"
    if size > MAX_BYTES:
        return f"JSON values may be at most {MAX_BYTES} bytes"
    return None


def check(value: object, what: str = "value") -> None:
    """Refuse an out-of-bounds value with a clear error (for the CLI, admin UI, library)."""
    reason = problem(value)
    if reason is not None:
        raise InvalidInput(f"{what}: {reason}")


def _validate(value: object) -> object:
    reason = problem(value)
    if reason is not None:
        raise ValueError(reason)
    return value


# A request field holding any JSON value within the bounds (422 `validation_failed` if not).
BoundedJson = Annotated[Any, AfterValidator(_validate)]


def readable(value: object) -> object:
    """`value`, or for one nested deeper than serializers manage, its JSON text as a string,
    so reading back what was stored never fails."""
    if depth(value) <= MAX_DEPTH:
        return value
    try:
        return json.dumps(value, separators=(",", ":"))
    except RecursionError:
        return "<value nested too deeply to display>"
