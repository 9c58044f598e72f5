"""Opaque tokens: prefixed, checksummed, carrying their tenant, stored only as hashes.

`tenantry_pat_<payload><checksum>`: the prefix lets secret scanners recognise a leaked token, the
CRC-32 checksum lets them (and us) reject typos without a database lookup, and the embedded
tenant id tells the server which tenant's context to look the hash up in. The secret part is
192 random bits, so a plain SHA-256 is the right storage hash (no slow hash needed).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import secrets
import zlib
from dataclasses import dataclass
from uuid import UUID


class TokenKind(enum.StrEnum):
    API = "tenantry_pat_"
    REFRESH = "tenantry_rt_"
    ONE_TIME = "tenantry_ott_"


_SECRET_BYTES = 24
_PAYLOAD_CHARS = 64  # base32 of 16 + 24 bytes, no padding
_CHECKSUM_CHARS = 7  # base32 of 4 bytes, no padding


@dataclass(frozen=True, slots=True)
class OpaqueToken:
    kind: TokenKind
    tenant_id: UUID
    value: str

    @property
    def hash(self) -> bytes:
        return token_hash(self.value)

    @property
    def display_prefix(self) -> str:
        return self.value[: len(self.kind) + 6]


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def new_token(kind: TokenKind, tenant_id: UUID) -> OpaqueToken:
    payload = tenant_id.bytes + secrets.token_bytes(_SECRET_BYTES)
    body = kind.value + _b32(payload)
    checksum = _b32(zlib.crc32(body.encode()).to_bytes(4, "big"))
    return OpaqueToken(kind, tenant_id, body + checksum)


def parse_token(value: str, kind: TokenKind) -> OpaqueToken | None:
    """The token's tenant if it is well-formed with a valid checksum, else None."""
    if not value.startswith(kind.value):
        return None
    rest = value[len(kind.value) :]
    if len(rest) != _PAYLOAD_CHARS + _CHECKSUM_CHARS:
        return None
    payload, checksum = rest[:_PAYLOAD_CHARS], rest[_PAYLOAD_CHARS:]
    body = kind.value + payload
    if _b32(zlib.crc32(body.encode()).to_bytes(4, "big")) != checksum:
        return None
    try:
        raw = base64.b32decode(payload.upper() + "=" * (-len(payload) % 8))
    except ValueError:
        return None
    return OpaqueToken(kind, UUID(bytes=raw[:16]), value)


def token_hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()
