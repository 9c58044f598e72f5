"""The audit log's types and its canonical row form, which the database's chain trigger uses too.

A row's hash is `sha256(prev_hash || canonical_bytes(row))`; the first row of a tenant chains to
`GENESIS`. The canonical form (version 1) is the UTF-8 encoding of `tenantry.audit.v1` followed by
each field as `<byte length>:<text>`, or `~` for NULL, in this order: tenant_id, seq, created_at
(microseconds since the Unix epoch), actor, effective_user, delegated (`t`/`f`), impersonated
(`t`/`f`), action, object_type, object_id, app_id, metadata (PostgreSQL's text form of the stored
jsonb), request_id. `tenantry_private.audit_row_bytes` (revision 0008) is the same function in
SQL; `tests/audit_log` holds the two to each other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping
    from uuid import UUID

GENESIS = bytes(32)
CANONICAL_VERSION = b"tenantry.audit.v1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class AuditReceipt:
    """Where an appended entry landed in its tenant's chain."""

    seq: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class AuditEntry:
    tenant_id: UUID
    seq: int
    created_at: datetime
    actor: str
    effective_user: str | None
    delegated: bool
    impersonated: bool
    action: str
    object_type: str
    object_id: str | None
    app_id: UUID | None
    metadata: dict[str, Any]
    request_id: str | None
    prev_hash: bytes
    hash: bytes

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditEntry:
        return cls(
            tenant_id=row["tenant_id"],
            seq=row["seq"],
            created_at=row["created_at"],
            actor=row["actor"],
            effective_user=row["effective_user"],
            delegated=row["delegated"],
            impersonated=row["impersonated"],
            action=row["action"],
            object_type=row["object_type"],
            object_id=row["object_id"],
            app_id=row["app_id"],
            metadata=row["metadata"],
            request_id=row["request_id"],
            prev_hash=bytes(row["prev_hash"]),
            hash=bytes(row["hash"]),
        )

    def as_json(self) -> dict[str, Any]:
        """The JSON form of `tenantry audit export`: hashes in hex, times in ISO 8601."""
        return {
            "tenant_id": str(self.tenant_id),
            "seq": self.seq,
            "created_at": self.created_at.isoformat(),
            "actor": self.actor,
            "effective_user": self.effective_user,
            "delegated": self.delegated,
            "impersonated": self.impersonated,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "app_id": str(self.app_id) if self.app_id else None,
            "metadata": self.metadata,
            "request_id": self.request_id,
            "prev_hash": self.prev_hash.hex(),
            "hash": self.hash.hex(),
        }


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """One tenant's chain as `verify` found it: `problem` names the first bad row, if any."""

    tenant_id: UUID
    tenant: str
    rows: int
    head_seq: int
    checkpoint_seq: int
    problem: str | None = None
    # The hash of the last row found good, and where the walk resumed an earlier one (None: it
    # started from the checkpoint).
    last_hash: bytes = b""
    resumed_seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        if self.problem:
            return f"{self.tenant}: TAMPERED: {self.problem}"
        start = f" from checkpoint seq {self.checkpoint_seq}" if self.checkpoint_seq else ""
        return f"{self.tenant}: ok, {self.rows} rows{start}, head seq {self.head_seq}"


@dataclass(frozen=True, slots=True)
class Pruned:
    tenant: str
    rows: int
    through_seq: int


def _field(value: str | None) -> bytes:
    if value is None:
        return b"~"
    encoded = value.encode()
    return str(len(encoded)).encode() + b":" + encoded


def canonical_bytes(row: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a stored row; `metadata_text` is the database's text of the
    jsonb (so the hash covers exactly what is stored, whatever JSON library reads it)."""
    created = (row["created_at"] - _EPOCH) // _MICROSECOND
    app_id = row["app_id"]
    fields = (
        str(row["tenant_id"]),
        str(row["seq"]),
        str(created),
        row["actor"],
        row["effective_user"],
        "t" if row["delegated"] else "f",
        "t" if row["impersonated"] else "f",
        row["action"],
        row["object_type"],
        row["object_id"],
        str(app_id) if app_id is not None else None,
        row["metadata_text"],
        row["request_id"],
    )
    return CANONICAL_VERSION + b"".join(_field(v) for v in fields)


def chain_hash(prev_hash: bytes, row: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(prev_hash + canonical_bytes(row)).digest()


def metadata_json(metadata: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(metadata or {}), default=str, separators=(",", ":"))
