"""The portable tenant archive: one tar file holding a manifest and one JSON Lines file per
table, each line one row as PostgreSQL's `row_to_json` writes it.

    manifest.json        format, version, tenant, apps (id -> slug), tables (file, rows,
                         SHA-256, columns with their types), secrets mode, signature
    tables/<schema>.<table>.jsonl

Every file's SHA-256 is in the manifest, and the manifest is signed with HMAC-SHA256 under a
key derived from the archive passphrase when one is given: an archive edited after export is
refused before anything is written (a changed file fails its checksum; a changed manifest
fails its signature, or, unsigned, still names the checksums the files must have).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import tarfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any

from tenantry.kit.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

FORMAT = "tenantry-tenant-archive"
VERSION = 1
MANIFEST = "manifest.json"
# Passphrase stretching for the manifest's MAC and the data keys' wrapping (scrypt, RFC 7914).
SCRYPT = {"n": 2**15, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024}
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024


class ArchiveRejected(InvalidInput):
    code = "archive_rejected"


@dataclass(frozen=True, slots=True)
class TableEntry:
    schema: str
    name: str
    rows: int
    sha256: str
    # (column, type) in the order the rows were written; the importing database must have each.
    columns: list[tuple[str, str]]

    @property
    def file(self) -> str:
        return f"tables/{self.schema}.{self.name}.jsonl"

    @property
    def qualified(self) -> tuple[str, str]:
        return (self.schema, self.name)


@dataclass(frozen=True, slots=True)
class Manifest:
    tenant: dict[str, Any]  # the tenant's own row
    apps: dict[str, str]  # app id -> slug, to map ids between installations
    tables: list[TableEntry]
    secrets: str  # "excluded" or "rewrapped"
    revisions: dict[str, str]  # schema revisions of the exporting installation, for the reader
    salt: str = ""  # hex; for the key derived from the passphrase
    exported_at: str = ""
    format: str = FORMAT
    version: int = VERSION
    signature: str = field(default="", compare=False)

    def body(self) -> bytes:
        """The signed bytes: every field but the signature, canonically encoded."""
        data = asdict(self)
        data.pop("signature")
        return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()


def derive_key(passphrase: str, salt: bytes, purpose: bytes) -> bytes:
    stretched = hashlib.scrypt(passphrase.encode(), salt=salt, dklen=32, **SCRYPT)
    return hmac.new(stretched, b"tenantry.archive." + purpose, hashlib.sha256).digest()


def sign(manifest: Manifest, passphrase: str | None) -> Manifest:
    if passphrase is None:
        return manifest
    key = derive_key(passphrase, bytes.fromhex(manifest.salt), b"manifest")
    signature = hmac.new(key, manifest.body(), hashlib.sha256).hexdigest()
    return replace(manifest, signature=signature)


def write(path: Path, manifest: Manifest, files: dict[str, Path]) -> None:
    """The archive at `path`: the manifest first, then each table's file."""
    with tarfile.open(path, "w") as archive:
        encoded = json.dumps(asdict(manifest), indent=2, default=str).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(encoded)
        archive.addfile(info, io.BytesIO(encoded))
        for name, source in files.items():
            archive.add(source, arcname=name, recursive=False)


@contextmanager
def opened(path: Path, passphrase: str | None) -> Iterator[ArchiveReader]:
    """The archive at `path`, verified in full (manifest, signature, every file's checksum)."""
    try:
        tar = tarfile.open(path, "r")  # noqa: SIM115 - closed below, past the yield
    except (OSError, tarfile.TarError) as exc:
        raise ArchiveRejected(f"not a tenant archive: {exc}") from exc
    with tar:
        yield ArchiveReader(tar, passphrase)


class ArchiveReader:
    """An archive opened for import: the manifest, verified, and each table's rows."""

    def __init__(self, tar: tarfile.TarFile, passphrase: str | None) -> None:
        self._tar = tar
        self.manifest = self._verified_manifest(passphrase)
        self._verify_files()

    def _member(self, name: str) -> IO[bytes]:
        try:
            member = self._tar.getmember(name)
        except KeyError:
            raise ArchiveRejected(f"the archive has no {name}") from None
        if not member.isfile():
            raise ArchiveRejected(f"{name} is not a regular file")
        extracted = self._tar.extractfile(member)
        assert extracted is not None
        return extracted

    def _verified_manifest(self, passphrase: str | None) -> Manifest:
        raw = self._member(MANIFEST).read(MAX_MANIFEST_BYTES + 1)
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ArchiveRejected("the manifest is too large")
        try:
            data = json.loads(raw)
            tables = [
                TableEntry(t["schema"], t["name"], int(t["rows"]), str(t["sha256"]),
                           [(str(c), str(k)) for c, k in t["columns"]])
                for t in data.pop("tables")
            ]  # fmt: skip
            manifest = Manifest(tables=tables, **data)
        except (ValueError, TypeError, KeyError) as exc:
            raise ArchiveRejected(f"the manifest is not readable: {exc}") from exc
        if manifest.format != FORMAT or manifest.version != VERSION:
            raise ArchiveRejected(
                f"unsupported archive format {manifest.format} {manifest.version}"
            )
        if manifest.signature or passphrase is not None:
            if passphrase is None:
                raise ArchiveRejected("the archive is signed: give its passphrase")
            if not manifest.signature:
                raise ArchiveRejected("the archive is not signed, but a passphrase was given")
            expected = sign(replace(manifest, signature=""), passphrase).signature
            if not hmac.compare_digest(expected, manifest.signature):
                raise ArchiveRejected("the manifest's signature does not match (tampered, or "
                                      "another passphrase)")  # fmt: skip
        return manifest

    def _verify_files(self) -> None:
        listed = {MANIFEST} | {t.file for t in self.manifest.tables}
        extra = sorted(m.name for m in self._tar.getmembers() if m.name not in listed)
        if extra:
            raise ArchiveRejected(f"files the manifest does not list: {', '.join(extra[:5])}")
        for table in self.manifest.tables:
            digest, lines = hashlib.sha256(), 0
            with self._member(table.file) as data:
                while chunk := data.read(CHUNK_BYTES):
                    digest.update(chunk)
                    lines += chunk.count(b"\n")
            if digest.hexdigest() != table.sha256:
                raise ArchiveRejected(f"{table.file} does not match its checksum")
            if lines != table.rows:
                raise ArchiveRejected(f"{table.file} does not hold {table.rows} rows")

    def batches(self, table: TableEntry, size: int) -> Iterator[list[str]]:
        """The table's rows, `size` lines at a time (a large table is never read whole)."""
        with self._member(table.file) as data:
            batch: list[str] = []
            for line in data:
                batch.append(line.rstrip(b"\n").decode())
                if len(batch) == size:
                    yield batch
                    batch = []
            if batch:
                yield batch
