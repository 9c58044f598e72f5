"""Licence-signing keys: Ed25519, created, rotated and retired by the operator.

The private halves live in `tenantry_private.licence_signing_keys`, which only the platform role
can read (the runtime role, and so every tenant request, cannot), the same place as the apps'
token keys; they are loaded only to sign, never logged, never exported. Verification needs only
the public halves (`tenantry.licence_keys`), which `export_public` writes for verifiers on
air-gapped installations. Rotation overlaps: new licences are signed by the newest key, and
licences signed by an older key keep verifying until that key is retired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tenantry.kit.errors import ConfigurationError, Conflict, NotFound
from tenantry.kit.ids import uuid7
from tenantry.licensing import repository
from tenantry.licensing.document import export_public_keys

if TYPE_CHECKING:
    from tenantry.kit.db import Database, Transaction
    from tenantry.licensing.models import LicenceKey


class LicenceKeys:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def rotate(self) -> str:
        """A new signing key; it signs every licence issued from now on."""
        private = Ed25519PrivateKey.generate()
        kid = f"lk-{uuid7().hex[:20]}"
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        async with self._db.platform_transaction() as tx:
            await repository.insert_key(tx, kid, public, pem)
        return kid

    async def all(self) -> list[LicenceKey]:
        async with self._db.platform_transaction() as tx:
            return await repository.keys(tx)

    async def retire(self, kid: str) -> None:
        """Licences signed by a retired key stop verifying."""
        async with self._db.platform_transaction() as tx:
            if not await repository.retire_key(tx, kid):
                raise NotFound(f"no active licence key {kid!r}")

    async def public_keys(self) -> dict[str, bytes]:
        """kid → raw public key, for every key that still verifies."""
        return {k.kid: k.public_key for k in await self.all() if k.active}

    async def export_public(self) -> bytes:
        return export_public_keys(await self.public_keys())

    @staticmethod
    async def signer_in(tx: Transaction) -> tuple[str, Ed25519PrivateKey]:
        found = await repository.newest_signing_key(tx)
        if found is None:
            # The operator's step is missing, not a server fault: a clear 409, never a 500.
            raise Conflict("no licence-signing key: run `tenantry licenses keys rotate` first")
        kid, pem = found
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigurationError(f"licence key {kid} is not an Ed25519 key")
        return kid, key
