"""Envelope encryption: AES-256-GCM under a tenant's data key, itself wrapped by a master key.

`SecretBox` is the sealing API every feature may use inside its own transaction (e.g. webhook
signing secrets): `seal_in(tx, tenant_id, app_id, purpose, plaintext)` returns an opaque blob
that only `open_in` with the same tenant, app and purpose opens. Stored secrets use the same
data keys with associated data binding tenant, app, secret id and version (`value_aad`).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tenantry.kit.errors import InvalidInput
from tenantry.secrets import repository
from tenantry.secrets.keys import KEY_BYTES, NONCE_BYTES
from tenantry.secrets.models import SecretUnreadable

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction
    from tenantry.secrets.keys import KeyEncryptionKey

_SEAL_FORMAT = b"\x01"
_NO_APP = bytes(16)
MAX_PURPOSE = 200
_HEADER = 5  # format byte, data key version


def _field(value: bytes) -> bytes:
    # Length-prefixed, so no two different tuples encode to the same bytes.
    return struct.pack(">I", len(value)) + value


def data_key_context(tenant_id: UUID, version: int) -> bytes:
    """What a wrapped data key is bound to: a wrapped key copied to another tenant or version
    does not unwrap."""
    return b"tenantry.data-key.v1" + _field(tenant_id.bytes) + _field(struct.pack(">I", version))


def value_aad(tenant_id: UUID, app_id: UUID, secret_id: UUID, version: int) -> bytes:
    return (
        b"tenantry.secret.v1"
        + _field(tenant_id.bytes)
        + _field(app_id.bytes)
        + _field(secret_id.bytes)
        + _field(struct.pack(">I", version))
    )


def seal_aad(tenant_id: UUID, app_id: UUID | None, purpose: str) -> bytes:
    if not purpose or len(purpose) > MAX_PURPOSE:
        raise InvalidInput("a sealing purpose of 1 to 200 characters is required")
    app = app_id.bytes if app_id is not None else _NO_APP
    return b"tenantry.seal.v1" + _field(tenant_id.bytes) + _field(app) + _field(purpose.encode())


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError) as exc:
        raise SecretUnreadable("the stored value does not decrypt here") from exc


@dataclass(slots=True)
class RewrapReport:
    rewrapped: int = 0
    # master key id -> data keys still under it, because it is not loaded here
    not_loaded: dict[str, int] = field(default_factory=dict)


class SecretBox:
    def __init__(self, kek: KeyEncryptionKey) -> None:
        self.kek = kek

    async def data_key_in(self, tx: Transaction, tenant_id: UUID) -> tuple[int, bytes]:
        """The tenant's current data key (version, key), created on first use."""
        row = await repository.current_data_key(tx, tenant_id)
        if row is None:
            await repository.lock_tenant_keys(tx, tenant_id)
            row = await repository.current_data_key(tx, tenant_id)
        if row is None:
            version = await repository.newest_data_key_version(tx, tenant_id) + 1
            await self._create_in(tx, tenant_id, version)
            row = await repository.current_data_key(tx, tenant_id)
            assert row is not None
        return row["version"], await self._unwrap(tenant_id, row)

    async def data_key_version_in(self, tx: Transaction, tenant_id: UUID, version: int) -> bytes:
        row = await repository.data_key(tx, tenant_id, version)
        if row is None:
            raise SecretUnreadable(f"data key version {version} is gone")
        return await self._unwrap(tenant_id, row)

    async def new_data_key_in(self, tx: Transaction, tenant_id: UUID) -> int:
        """Retire the tenant's data key and start a new version (platform path): new values use
        it, older versions still decrypt with theirs."""
        await repository.lock_tenant_keys(tx, tenant_id)
        version = await repository.newest_data_key_version(tx, tenant_id) + 1
        await repository.retire_data_keys(tx, tenant_id)
        await self._create_in(tx, tenant_id, version)
        return version

    async def rewrap_all_in(self, tx: Transaction) -> RewrapReport:
        """Every data key not under the current master key, rewrapped under it (platform
        path). The keys themselves, hence every stored value, are unchanged. Keys under a master
        key that is not loaded are left as they are and counted."""
        current = self.kek.current_id
        report = RewrapReport()
        for row in await repository.wrapped_keys_for_rewrap(tx, current):
            if not self.kek.knows(row["master_key_id"]):
                missing = report.not_loaded
                missing[row["master_key_id"]] = missing.get(row["master_key_id"], 0) + 1
                continue
            report.rewrapped += 1
            key = await self._unwrap(row["tenant_id"], row)
            context = data_key_context(row["tenant_id"], row["version"])
            key_id, wrapped = await self.kek.wrap(key, context)
            await repository.rewrap(tx, row["tenant_id"], row["version"], wrapped, key_id)
        return report

    async def seal_in(
        self,
        tx: Transaction,
        tenant_id: UUID,
        app_id: UUID | None,
        purpose: str,
        plaintext: bytes,
    ) -> bytes:
        """`plaintext` encrypted under the tenant's current data key, bound to the tenant, the
        app and `purpose` (e.g. "webhooks.signing-secret")."""
        version, key = await self.data_key_in(tx, tenant_id)
        sealed = encrypt(key, plaintext, seal_aad(tenant_id, app_id, purpose))
        return _SEAL_FORMAT + struct.pack(">I", version) + sealed

    async def open_in(
        self,
        tx: Transaction,
        tenant_id: UUID,
        app_id: UUID | None,
        purpose: str,
        sealed: bytes,
    ) -> bytes:
        if len(sealed) < _HEADER or sealed[:1] != _SEAL_FORMAT:
            raise SecretUnreadable("not a sealed value")
        (version,) = struct.unpack(">I", sealed[1:_HEADER])
        key = await self.data_key_version_in(tx, tenant_id, version)
        return decrypt(key, sealed[_HEADER:], seal_aad(tenant_id, app_id, purpose))

    async def _create_in(self, tx: Transaction, tenant_id: UUID, version: int) -> None:
        key = os.urandom(KEY_BYTES)
        key_id, wrapped = await self.kek.wrap(key, data_key_context(tenant_id, version))
        await repository.insert_data_key(tx, tenant_id, version, wrapped, key_id)

    async def _unwrap(self, tenant_id: UUID, row: dict[str, object]) -> bytes:
        wrapped = row["wrapped_key"]
        assert isinstance(wrapped, bytes)
        return await self.kek.unwrap(
            str(row["master_key_id"]),
            wrapped,
            data_key_context(tenant_id, int(str(row["version"]))),
        )
