"""Per-tenant statement timings, measured in the service: `pg_stat_statements` normalises the
tenant id away (it is a parameter), so only the application knows whose statement it timed.

A statement is known by its *shape*: its text with comments, literals and parameters replaced
by `?` and whitespace collapsed, and a fingerprint of that text. Values never reach a shape:
they travel as bind parameters, and any literal written into the text is blanked.

Timings go into a histogram of fixed logarithmic buckets (each 2^(1/4) wider than the one
below, from 10 µs to about 140 s), so the p95 of any number of calls, and of several processes'
histograms merged by adding them, is known to within about 9 % with a few integers per
statement. `QueryStats` holds what was recorded since it was last drained, bounded in entries.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from uuid import UUID

# The histogram: bucket 0 holds calls up to FLOOR seconds, bucket i up to FLOOR * RATIO**i.
FLOOR = 10e-6
RATIO = 2**0.25
BUCKETS = 96
_LOG_RATIO = math.log(RATIO)
# Shapes keep this much text: enough to recognise any statement the service runs.
TEXT_LIMIT = 1000

_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_DOLLAR_QUOTED = re.compile(r"\$(\w*)\$.*?\$\1\$", re.DOTALL)
_STRING = re.compile(r"(?<!\w)[eE]'(?:[^'\\]|\\.|'')*'|(?:\b[bBxXuU]&?)?'(?:[^']|'')*'")
_PARAMETER = re.compile(r"%(?:\(\w+\))?[sbt]|\$\d+")
_NUMBER = re.compile(r"(?<![\w$.\"])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b")
_SPACE = re.compile(r"\s+")
_KEYWORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True, slots=True)
class Shape:
    """A statement without its values: what the reports and spans name it by."""

    fingerprint: str
    keyword: str
    text: str


@lru_cache(maxsize=4096)
def shape_of(statement: str) -> Shape:
    """The shape of a statement's text (cached: the service runs a few hundred texts)."""
    text = _COMMENT.sub(" ", statement)
    text = _DOLLAR_QUOTED.sub("?", text)
    text = _STRING.sub("?", text)
    text = _PARAMETER.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _SPACE.sub(" ", text).strip()
    keyword = _KEYWORD.search(text)
    return Shape(
        fingerprint=hashlib.sha256(text.encode()).hexdigest()[:16],
        keyword=keyword.group(0).upper() if keyword else "UNKNOWN",
        text=text[:TEXT_LIMIT],
    )


def bucket(seconds: float) -> int:
    if seconds <= FLOOR:
        return 0
    return min(BUCKETS - 1, math.ceil(math.log(seconds / FLOOR) / _LOG_RATIO - 1e-9))


def percentile(histogram: Mapping[int, int], fraction: float) -> float:
    """The `fraction` quantile in seconds (the bucket's geometric middle), 0 when empty."""
    total = sum(histogram.values())
    if total == 0:
        return 0.0
    wanted = fraction * total
    seen = 0
    index = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= wanted:
            break
    return FLOOR if index == 0 else FLOOR * RATIO ** (index - 0.5)


def merge(into: dict[int, int], histogram: Mapping[int, int]) -> None:
    for index, count in histogram.items():
        into[index] = into.get(index, 0) + count


@dataclass(slots=True)
class Totals:
    shape: Shape
    calls: int = 0
    seconds: float = 0.0
    histogram: dict[int, int] = field(default_factory=dict)

    def add(self, seconds: float) -> None:
        self.calls += 1
        self.seconds += seconds
        index = bucket(seconds)
        self.histogram[index] = self.histogram.get(index, 0) + 1


@dataclass(frozen=True, slots=True)
class Drained:
    """What `QueryStats.drain` hands over: the entries, and how many calls found it full."""

    entries: dict[tuple[UUID, str], Totals]
    dropped: int


class QueryStats:
    """Timings per (tenant, statement shape) since the last drain, at most `max_entries` of
    them; calls of a new pair beyond that are counted as dropped, never grow the memory."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[UUID, str], Totals] = {}
        self._dropped = 0

    def record(self, tenant_id: UUID, shape: Shape, seconds: float) -> None:
        key = (tenant_id, shape.fingerprint)
        totals = self._entries.get(key)
        if totals is None:
            if len(self._entries) >= self.max_entries:
                self._dropped += 1
                return
            totals = self._entries[key] = Totals(shape)
        totals.add(seconds)

    def __len__(self) -> int:
        return len(self._entries)

    def drain(self) -> Drained:
        drained = Drained(self._entries, self._dropped)
        self._entries, self._dropped = {}, 0
        return drained

    def restore(self, drained: Drained) -> None:
        """Put back what a failed flush drained (within the bound), to be sent next time."""
        for key, totals in drained.entries.items():
            current = self._entries.get(key)
            if current is not None:
                current.calls += totals.calls
                current.seconds += totals.seconds
                merge(current.histogram, totals.histogram)
            elif len(self._entries) < self.max_entries:
                self._entries[key] = totals
            else:
                self._dropped += totals.calls
        self._dropped += drained.dropped
