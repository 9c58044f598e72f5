"""Splitting a document into chunks: deterministic, by paragraphs, then sentences, then words.

A chunk holds whole paragraphs while they fit in `max_chars`; a paragraph that does not fit is
cut between sentences, and a sentence that does not fit between words (a word longer than the
budget is cut where the budget ends). Each chunk after the first starts with the last
sentences of the one before, up to `overlap_chars`, so a passage that straddles a boundary is
whole in one of them. The same text and policy always give the same chunks.

The budget is in characters: about four per token for English text, so the default of 1,200
characters is about 300 tokens, well inside the 256-512 word-piece windows of small embedding
models once the overlap is counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class ChunkingPolicy:
    max_chars: int = 1200
    overlap_chars: int = 200

    def __post_init__(self) -> None:
        if self.max_chars < 20:  # noqa: PLR2004 - below this a chunk is no passage at all
            raise ValueError("max_chars must be at least 20")
        if not 0 <= self.overlap_chars < self.max_chars // 2:
            raise ValueError("overlap_chars must be at least 0 and under half of max_chars")


DEFAULT_POLICY = ChunkingPolicy()


def split_into_chunks(text: str, policy: ChunkingPolicy = DEFAULT_POLICY) -> list[str]:
    """The chunks of `text`, in order; empty when it holds no words."""
    pieces = [p for paragraph in _paragraphs(text) for p in _fitting(paragraph, policy.max_chars)]
    chunks: list[str] = []
    current: list[str] = []
    for piece in pieces:
        if current and _length([*current, piece]) > policy.max_chars:
            chunks.append(" ".join(current))
            current = _overlap(current, policy.overlap_chars, policy.max_chars - len(piece) - 1)
        current.append(piece)
    if current:
        chunks.append(" ".join(current))
    return chunks


def _paragraphs(text: str) -> list[str]:
    found = (_SPACE.sub(" ", p).strip() for p in _PARAGRAPH_BREAK.split(text))
    return [p for p in found if p]


def _fitting(paragraph: str, limit: int) -> list[str]:
    """The paragraph whole, else its sentences, each cut between words if still too long."""
    if len(paragraph) <= limit:
        return [paragraph]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        pieces += [sentence] if len(sentence) <= limit else _words(sentence, limit)
    return pieces


def _words(sentence: str, limit: int) -> list[str]:
    parts: list[str] = []
    line = ""
    for word in sentence.split(" "):
        while len(word) > limit:  # one "word" over the budget: a URL, a hash, a table row
            if line:
                parts.append(line)
                line = ""
            parts.append(word[:limit])
            word = word[limit:]  # noqa: PLW2901 - the rest of the word is cut again
        candidate = f"{line} {word}" if line else word
        if len(candidate) > limit:
            parts.append(line)
            line = word
        else:
            line = candidate
    if line:
        parts.append(line)
    return parts


def _overlap(previous: list[str], overlap_chars: int, room: int) -> list[str]:
    """The trailing sentences of the previous chunk to repeat: whole sentences only, within
    the overlap and within the room the next piece leaves."""
    budget = min(overlap_chars, room)
    carried: list[str] = []
    for piece in reversed(_sentences(previous)):
        if _length([piece, *carried]) > budget:
            break
        carried.insert(0, piece)
    return carried


def _sentences(pieces: list[str]) -> list[str]:
    return [s for piece in pieces for s in _SENTENCE_END.split(piece)]


def _length(pieces: list[str]) -> int:
    return sum(len(p) for p in pieces) + max(len(pieces) - 1, 0)
