"""Per-app token signing keys and the JWKS they publish.

Each app is its own issuer with its own Ed25519 keys, the self-hosted equivalent of a user pool
per app: a token minted for one app cannot verify as another's. Private keys live in
`tenantry_private`, readable only by the platform role. Rotation adds a key that signs from then
on; older keys stay in the JWKS and keep verifying until retired.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from tenantry.identity.repository import keys as stored
from tenantry.kit.errors import ConfigurationError, InvalidInput
from tenantry.kit.ids import uuid7
from tenantry.kit.invalidation import KEYS, notify_in

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Database, Transaction

ALGORITHM = "EdDSA"
# An unknown kid triggers at most one reload per interval, so junk kids cannot hammer the DB.
RELOAD_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class AppKey:
    kid: str
    app_id: UUID
    algorithm: str
    private_key: Ed25519PrivateKey
    public_key: Ed25519PublicKey
    public_jwk: dict[str, Any]

    def __repr__(self) -> str:
        return f"AppKey(kid={self.kid!r}, app_id={self.app_id})"


def _public_jwk(public_key: Ed25519PublicKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = OKPAlgorithm.to_jwk(public_key, as_dict=True)
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


async def create_key(tx: Transaction, app_id: UUID) -> str:
    private = Ed25519PrivateKey.generate()
    kid = f"{uuid7().hex[:20]}"
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    await stored.insert_key(tx, kid, app_id, ALGORITHM, pem, _public_jwk(private.public_key(), kid))
    await notify_in(tx, KEYS)
    return kid


async def retire_key(tx: Transaction, kid: str) -> bool:
    retired = await stored.retire_key(tx, kid)
    await notify_in(tx, KEYS)
    return retired


class KeyRing:
    """Active signing keys of every app, cached in memory."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._by_kid: dict[str, AppKey] = {}
        self._signing: dict[UUID, AppKey] = {}
        self._loaded_at = 0.0
        # Bumped on every reload, so anything cached against the old keys is dropped.
        self.generation = 0

    async def ensure_keys(self, app_ids: list[UUID]) -> None:
        """Give every app without an active key its first one."""
        async with self._db.platform_transaction() as tx:
            # Worker processes start together: one at a time, so each app gets one first key.
            await stored.lock_first_keys(tx)
            have = await stored.apps_with_active_keys(tx)
            for app_id in app_ids:
                if app_id not in have:
                    await create_key(tx, app_id)
        await self.reload()

    async def reload(self) -> None:
        async with self._db.platform_transaction() as tx:
            rows = await stored.active_keys(tx)
        by_kid: dict[str, AppKey] = {}
        signing: dict[UUID, AppKey] = {}
        for row in rows:
            private = serialization.load_pem_private_key(row["private_key"].encode(), None)
            if not isinstance(private, Ed25519PrivateKey):
                raise ConfigurationError(f"signing key {row['kid']} is not Ed25519")
            key = AppKey(
                kid=row["kid"],
                app_id=row["app_id"],
                algorithm=row["algorithm"],
                private_key=private,
                public_key=private.public_key(),
                public_jwk=_public_jwk(private.public_key(), row["kid"]),
            )
            by_kid[key.kid] = key
            signing[key.app_id] = key  # ordered by creation: the newest wins
        self._by_kid, self._signing = by_kid, signing
        self._loaded_at = time.monotonic()
        self.generation += 1

    def signing_key(self, app_id: UUID) -> AppKey:
        key = self._signing.get(app_id)
        if key is None:
            raise ConfigurationError(f"app {app_id} has no signing key")
        return key

    async def find(self, kid: str) -> AppKey | None:
        key = self._by_kid.get(kid)
        if key is None and time.monotonic() - self._loaded_at > RELOAD_INTERVAL_SECONDS:
            await self.reload()
            key = self._by_kid.get(kid)
        return key

    async def active_kids(self) -> dict[UUID, list[str]]:
        """Each app's active key ids, oldest first, as stored now (not as cached)."""
        async with self._db.platform_transaction() as tx:
            return await stored.active_kids_by_app(tx)

    async def rotate(self, app_id: UUID) -> str:
        """A new key that signs from now on; the older ones keep verifying until retired."""
        async with self._db.platform_transaction() as tx:
            return await create_key(tx, app_id)

    async def retire(self, kid: str) -> None:
        """Tokens the key signed stop verifying and it leaves the JWKS. An app's last key
        cannot go: nothing could be signed for it any more."""
        async with self._db.platform_transaction() as tx:
            others = await stored.other_active_keys(tx, kid)
            if others is None:
                raise InvalidInput(f"no active key {kid}")
            if others == 0:
                raise InvalidInput(f"{kid} is its app's last active key; rotate first")
            await retire_key(tx, kid)

    def jwks(self, app_id: UUID) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self._by_kid.values() if k.app_id == app_id]}
