"""Master keys: the key-encryption keys that wrap each tenant's data keys.

`KeyEncryptionKey` is the seam for a cloud KMS (AWS KMS, GCP KMS, Vault transit): it wraps and
unwraps a data key under a named key version and never hands the master key out. The default,
`LocalMasterKeys`, holds one or more 32-byte AES keys read from `TENANTRY_MASTER_KEY_FILE` or
`TENANTRY_MASTER_KEY` (base64, one key per line or comma, newest last: several versions are
loaded at once so `tenantry secrets rotate-master` can rewrap from the old to the new one). In
development, with neither set, a key is generated under the data directory (like the embedded
database's data) and a log line says so.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tenantry.kit.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
FILE_VARIABLE = "TENANTRY_MASTER_KEY_FILE"
KEY_VARIABLE = "TENANTRY_MASTER_KEY"
DEV_FILE = "master.key"


class KeyUnwrapFailed(ConfigurationError):
    """A wrapped data key did not open: a wrong or missing master key, or a tampered row."""

    code = "master_key_mismatch"


class KeyEncryptionKey(Protocol):
    """Wraps data keys; implementations may call out to a KMS (hence async)."""

    @property
    def current_id(self) -> str:
        """The key version new wraps use."""
        ...

    def knows(self, key_id: str) -> bool: ...

    async def wrap(self, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        """`data_key` encrypted under the current version, bound to `context`: (key id, blob)."""
        ...

    async def unwrap(self, key_id: str, wrapped: bytes, context: bytes) -> bytes: ...


def key_id(key: bytes) -> str:
    """A stable, non-secret name for a master key: a prefix of its SHA-256."""
    return "local-" + hashlib.sha256(b"tenantry.master-key-id" + key).hexdigest()[:12]


class LocalMasterKeys:
    """AES-256-GCM master keys held in memory, newest last."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigurationError("no master key")
        for key in keys:
            if len(key) != KEY_BYTES:
                raise ConfigurationError("a master key must be 32 bytes (base64)")
        self._keys: Mapping[str, bytes] = {key_id(k): k for k in keys}
        self._current = key_id(keys[-1])

    @property
    def current_id(self) -> str:
        return self._current

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def knows(self, key_id: str) -> bool:
        return key_id in self._keys

    async def wrap(self, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._keys[self._current]).encrypt(nonce, data_key, context)
        return self._current, nonce + sealed

    async def unwrap(self, key_id: str, wrapped: bytes, context: bytes) -> bytes:
        key = self._keys.get(key_id)
        if key is None:
            raise KeyUnwrapFailed(f"master key {key_id} is not loaded")
        try:
            return AESGCM(key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context)
        except InvalidTag as exc:
            raise KeyUnwrapFailed(f"a data key did not open under master key {key_id}") from exc


def new_key_line() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def parse_keys(text: str) -> list[bytes]:
    keys = []
    for part in text.replace(",", "\n").splitlines():
        if part := part.strip():
            try:
                keys.append(base64.b64decode(part, validate=True))
            except binascii.Error as exc:
                raise ConfigurationError("a master key is not valid base64") from exc
    return keys


def write_new_key_file(path: Path) -> None:
    """A new key file with one fresh key, readable by its owner only; never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(new_key_line() + "\n")


def append_key(path: Path) -> None:
    """A new newest version at the end of the key file (rotation keeps the older ones)."""
    with path.open("a") as out:
        out.write(new_key_line() + "\n")


def key_file(data_dir: Path, environ: Mapping[str, str] | None = None) -> Path | None:
    """The key file in use: the configured one, or the development one; None when the keys come
    from the environment itself."""
    env = os.environ if environ is None else environ
    if configured := env.get(FILE_VARIABLE):
        return Path(configured)
    if env.get(KEY_VARIABLE):
        return None
    return data_dir / DEV_FILE


def load_master_keys(data_dir: Path, environ: Mapping[str, str] | None = None) -> LocalMasterKeys:
    env = os.environ if environ is None else environ
    if (value := env.get(KEY_VARIABLE)) and not env.get(FILE_VARIABLE):
        return LocalMasterKeys(parse_keys(value))
    path = key_file(data_dir, env)
    assert path is not None
    if not path.exists():
        if env.get(FILE_VARIABLE):
            raise ConfigurationError(
                f"{FILE_VARIABLE} names {path}, which does not exist "
                "(create it with `tenantry secrets init-master`)"
            )
        try:
            write_new_key_file(path)
            log.warning(
                "no master key configured: generated a development key in %s "
                "(set %s or %s in production)",
                path,
                FILE_VARIABLE,
                KEY_VARIABLE,
            )
        except FileExistsError:
            pass  # another process created it first
    return LocalMasterKeys(parse_keys(path.read_text()))
