"""The SET list of a partial update, composed from a table's known columns only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Mapping


def assignments(changes: Mapping[str, Any], allowed: frozenset[str]) -> sql.Composed:
    """`col = %(col)s, …, updated_at = now()` for the changed columns."""
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    parts = [
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
        for column in sorted(changes)
    ]
    return sql.SQL(", ").join([*parts, sql.SQL("updated_at = now()")])
