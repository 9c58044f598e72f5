"""Opaque keyset cursors: a list's position, readable only by the list that handed it out.

A cursor is the base64url JSON `[list name, *key values]` of the last row of a page; the next
page starts strictly after it. Clients must treat it as opaque (its form may change); one of
another list, or altered, is `422 invalid_cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from uuid import UUID

from tenantry.workloads.conversations.errors import InvalidCursor

MAX_LENGTH = 512


def encode(kind: str, *values: str) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(kind: str, cursor: str, size: int) -> list[str]:
    """The `size` values of a cursor of list `kind`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as exc:
        raise InvalidCursor("this cursor is not one this list handed out") from exc
    if (
        not isinstance(values, list)
        or len(values) != size + 1
        or values[0] != kind
        or not all(isinstance(v, str) for v in values)
    ):
        raise InvalidCursor("this cursor is not one this list handed out")
    return values[1:]


def time_and_id(kind: str, cursor: str) -> tuple[datetime, UUID]:
    when, row_id = decode(kind, cursor, 2)
    try:
        at = datetime.fromisoformat(when)
        key = UUID(row_id)
    except ValueError as exc:
        raise InvalidCursor("this cursor is not one this list handed out") from exc
    if at.tzinfo is None:
        raise InvalidCursor("this cursor is not one this list handed out")
    return at, key


def of_time_and_id(kind: str, at: datetime, row_id: UUID) -> str:
    return encode(kind, at.isoformat(), str(row_id))


def text(kind: str, cursor: str) -> str:
    [value] = decode(kind, cursor, 1)
    return value


def uuid(kind: str, cursor: str) -> UUID:
    try:
        return UUID(text(kind, cursor))
    except ValueError as exc:
        raise InvalidCursor("this cursor is not one this list handed out") from exc
