"""Export a tenant to a portable archive and import it here or into another installation.

Export reads every table in one read-only snapshot (the files agree with each other). Import
verifies the whole archive first, then writes the tenant in one transaction: it is all there
or not at all. Ids are kept; apps are matched by slug, since each installation names its apps
with ids of its own.

Secrets: by default the sealed tables (data keys, secret values, webhook signing secrets) stay
behind, and an imported tenant has its secrets' names and history without their values. With
`secrets=True` (a passphrase is then required) each data key is unwrapped with this
installation's master key and wrapped again under a key derived from the passphrase; import
wraps it under the importing installation's master key. Values stay sealed under their data
keys; only when the importing installation names an app with another id (values are bound to
their app's id) is each value opened in memory and sealed again for the new id.

Both ends are in the tenant's audit log: `tenant.exported` and `tenant.imported`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg

from tenantry.audit_log.service import AuditLog
from tenantry.kit.errors import Conflict, InvalidInput, NotFound
from tenantry.kit.migrate import current_revision
from tenantry.kit.placements import SHARED
from tenantry.placements import archive
from tenantry.placements.archive import ArchiveReader, ArchiveRejected, Manifest, TableEntry
from tenantry.placements.repository import rows as repository
from tenantry.secrets.box import data_key_context, decrypt, encrypt, value_aad
from tenantry.secrets.models import SecretUnreadable

if TYPE_CHECKING:
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction
    from tenantry.secrets.keys import KeyEncryptionKey

# What stays behind unless secrets travel (re-wrapped): the data keys and what they seal.
DATA_KEYS = ("tenantry", "secret_data_keys")
VALUES = ("tenantry", "secret_versions")
SEALED = frozenset({DATA_KEYS, VALUES, ("tenantry", "webhook_secrets")})
ARCHIVE_KEY_ID = "archive"
BATCH_ROWS = 2_000
RENEW_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ImportReport:
    tenant_id: UUID
    slug: str
    rows: dict[str, int]


class TenantArchives:
    def __init__(self, db: Database, kek: KeyEncryptionKey) -> None:
        self._db = db
        self._kek = kek

    async def export(
        self,
        slug: str,
        path: Path,
        *,
        by: Actor,
        passphrase: str | None = None,
        secrets: bool = False,
    ) -> Manifest:
        if secrets and passphrase is None:
            raise InvalidInput("secrets travel wrapped under the archive's passphrase: give one")
        salt = os.urandom(16)
        wrap_key = None
        if secrets and passphrase is not None:
            wrap_key = archive.derive_key(passphrase, salt, b"data-keys")
        partial = path.with_name(path.name + ".partial")
        async with self._db.platform_transaction() as tx:
            tenant_id = await repository.tenant_by_slug(tx, slug)
        if tenant_id is None:
            raise NotFound(f"no tenant {slug!r}")
        with tempfile.TemporaryDirectory(prefix="tenantry-export-") as folder:
            # Read where the tenant lives, its silo if it has one.
            async with self._db.platform_transaction(snapshot=True, tenant_id=tenant_id) as tx:
                entries: list[TableEntry] = []
                files: dict[str, Path] = {}
                for table in await repository.tenant_tables(tx):
                    if table.qualified in SEALED and not secrets:
                        continue
                    rewrap = None
                    if table.qualified == DATA_KEYS and wrap_key is not None:
                        rewrap = _Rewrap(tenant_id, self._kek, wrap_key)
                    entry, file = await _export_table(tx, table, tenant_id, Path(folder), rewrap)
                    entries.append(entry)
                    files[entry.file] = file
                apps = await repository.apps(tx)
                revision = await current_revision(tx)
            tenant = json.loads(files["tables/tenantry.tenants.jsonl"].read_text())
            manifest = archive.sign(
                Manifest(
                    tenant={k: tenant[k] for k in ("id", "slug", "name", "status", "plan")},
                    apps=apps,
                    tables=entries,
                    secrets="rewrapped" if secrets else "excluded",
                    revisions={"core": revision or ""},
                    salt=salt.hex(),
                    exported_at=datetime.now(UTC).isoformat(),
                ),
                passphrase,
            )
            archive.write(partial, manifest, files)
        partial.replace(path)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            await _audit(tx, "tenant.exported", tenant_id, by, manifest)
        return manifest

    async def import_(
        self, path: Path, *, by: Actor, passphrase: str | None = None
    ) -> ImportReport:
        with archive.opened(path, passphrase) as reader:  # verified before any write
            manifest = reader.manifest
            tenant_id, slug = UUID(str(manifest.tenant["id"])), str(manifest.tenant["slug"])
            rewrap = None
            if manifest.secrets == "rewrapped":
                if passphrase is None:
                    raise ArchiveRejected("the archive's secrets need its passphrase")
                key = archive.derive_key(passphrase, bytes.fromhex(manifest.salt), b"data-keys")
                rewrap = _Rewrap(tenant_id, self._kek, key)
            async with self._db.platform_transaction() as tx:
                if await repository.tenant_exists(tx, tenant_id, slug):
                    raise Conflict(f"a tenant with the id or slug of {slug!r} is already here")
                mapping = _AppMapping(manifest.apps, await repository.apps(tx))
                async with repository.restoring_audit_trail(tx, mapping.archived_ids()):
                    rows = await _write_tables(tx, reader, tenant_id, rewrap, mapping)
                await _audit(tx, "tenant.imported", tenant_id, by, manifest)
        return ImportReport(tenant_id, slug, rows)


async def _write_tables(
    tx: Transaction,
    reader: ArchiveReader,
    tenant_id: UUID,
    rewrap: _Rewrap | None,
    mapping: _AppMapping,
) -> dict[str, int]:
    """Every archived table's rows, parents first, in batches; the rows written per table."""
    here = {t.qualified: t for t in await repository.tenant_tables(tx)}
    app_columns = await repository.app_columns(tx)
    written: dict[str, int] = {}
    for entry in reader.manifest.tables:
        table = _target(here, entry)
        columns = app_columns.get(entry.qualified, [])
        written[".".join(entry.qualified)] = 0
        for batch in reader.batches(entry, BATCH_ROWS):
            lines = await _arriving(entry, batch, rewrap, mapping, columns)
            await tx.renew(RENEW_SECONDS)  # an import may outlast a signed context
            await _insert(tx, table, lines, tenant_id)
            written[".".join(entry.qualified)] += len(lines)
    return written


async def _audit(
    tx: Transaction, action: str, tenant_id: UUID, by: Actor, manifest: Manifest
) -> None:
    metadata = {
        "rows": sum(t.rows for t in manifest.tables),
        "secrets": manifest.secrets,
        "signed": bool(manifest.signature),
        "exported_at": manifest.exported_at,
    }
    await AuditLog.record_in(
        tx,
        tenant_id=tenant_id,
        action=action,
        object_type="tenant",
        object_id=tenant_id,
        by=by,
        metadata=metadata,
    )


async def _export_table(
    tx: Transaction,
    table: repository.Table,
    tenant_id: UUID,
    folder: Path,
    rewrap: _Rewrap | None,
) -> tuple[TableEntry, Path]:
    await tx.renew(RENEW_SECONDS)  # an export may outlast a signed context
    file = folder / f"{table.schema}.{table.name}.jsonl"
    digest, count = hashlib.sha256(), 0
    with file.open("wb") as out:
        async for row in repository.stream_rows(tx, table, tenant_id):
            line = row if rewrap is None else await rewrap.outward(row)
            data = line.encode() + b"\n"
            out.write(data)
            digest.update(data)
            count += 1
    entry = TableEntry(table.schema, table.name, count, digest.hexdigest(), table.columns)
    return entry, file


def _target(here: dict[tuple[str, str], repository.Table], entry: TableEntry) -> repository.Table:
    """The table to import `entry` into: this installation's, with every archived column of the
    same type (columns only this side has keep their defaults)."""
    table = here.get(entry.qualified)
    if table is None:
        raise ArchiveRejected(f"this installation has no table {'.'.join(entry.qualified)}")
    types = dict(table.columns)
    for column, kind in entry.columns:
        if types.get(column) != kind:
            raise ArchiveRejected(
                f"{'.'.join(entry.qualified)}.{column} is {kind} in the archive and "
                f"{types.get(column) or 'missing'} here: bring both installations to one version"
            )
    return repository.Table(table.schema, table.name, entry.columns, table.key)


async def _arriving(
    entry: TableEntry,
    lines: list[str],
    rewrap: _Rewrap | None,
    mapping: _AppMapping,
    app_columns: list[str],
) -> list[str]:
    """A batch of archived rows as they go in here: data keys wrapped under this
    installation's master key, values sealed for its app ids, app ids mapped."""
    if entry.qualified == repository.TENANTS:  # it lives here now, wherever it lived there
        lines = [_arrived(line) for line in lines]
    if rewrap is not None and entry.qualified == DATA_KEYS:
        lines = [await rewrap.inward(line) for line in lines]
    if rewrap is not None and entry.qualified == VALUES and not mapping.identity:
        lines = [rewrap.reseal(line, mapping) for line in lines]
    return mapping.apply(lines, app_columns)


async def _insert(
    tx: Transaction, table: repository.Table, lines: list[str], tenant_id: UUID
) -> None:
    where = ".".join(table.qualified)
    try:
        inserted = await repository.insert_rows(tx, table, lines, tenant_id)
    except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
        raise ArchiveRejected(
            f"{where}: {exc.diag.message_primary} (nothing was imported)"
        ) from exc
    if inserted != len(lines):  # an edited archive naming a tenant of this installation
        raise ArchiveRejected(f"{where}: rows of another tenant (nothing was imported)")


class _AppMapping:
    """Each archived app id to this installation's id for the same slug."""

    def __init__(self, archived: dict[str, str], here: dict[str, str]) -> None:
        by_slug = {slug: app_id for app_id, slug in here.items()}
        self._ids = {old: by_slug.get(slug) for old, slug in archived.items()}
        self._slugs = archived
        self.identity = all(old == new for old, new in self._ids.items() if new is not None)

    def apply(self, lines: list[str], columns: list[str]) -> list[str]:
        if not columns or self.identity:
            return lines
        return [self._line(line, columns) for line in lines]

    def archived_ids(self) -> dict[str, str]:
        """This installation's id -> the archive's, for each app both have."""
        return {new: old for old, new in self._ids.items() if new is not None}

    def here(self, archived: str) -> str:
        """This installation's id for the archived app id."""
        found = self._ids.get(archived)
        if found is None:
            slug = self._slugs.get(archived, archived)
            raise ArchiveRejected(f"the archive needs the app {slug!r}, not installed here")
        return found

    def _line(self, line: str, columns: list[str]) -> str:
        row: dict[str, Any] = json.loads(line)
        for column in columns:
            if row.get(column) is not None:
                row[column] = self.here(row[column])
        return json.dumps(row)


class _Rewrap:
    """A data key row's wrapping changed between this installation's master key and the
    archive's key; the data key itself is only ever in memory."""

    def __init__(self, tenant_id: UUID, kek: KeyEncryptionKey, archive_key: bytes) -> None:
        self._tenant_id = tenant_id
        self._kek = kek
        self._archive_key = archive_key
        self._keys: dict[int, bytes] = {}  # data keys by version, as they come in

    async def outward(self, line: str) -> str:
        row, context = self._read(line)
        key = await self._kek.unwrap(row["master_key_id"], _bytes(row["wrapped_key"]), context)
        row["wrapped_key"] = _hex(encrypt(self._archive_key, key, context))
        row["master_key_id"] = ARCHIVE_KEY_ID
        return json.dumps(row)

    async def inward(self, line: str) -> str:
        row, context = self._read(line)
        try:
            key = decrypt(self._archive_key, _bytes(row["wrapped_key"]), context)
        except SecretUnreadable as exc:
            raise ArchiveRejected("a data key does not open with the archive's key") from exc
        self._keys[int(row["version"])] = key
        row["master_key_id"], wrapped = await self._kek.wrap(key, context)
        row["wrapped_key"] = _hex(wrapped)
        return json.dumps(row)

    def reseal(self, line: str, apps: _AppMapping) -> str:
        """A secret value sealed again for its app's id here: the value's associated data
        names the app, whose id differs between installations. The value exists only in
        memory, between the two calls."""
        row: dict[str, Any] = json.loads(line)
        key = self._keys[int(row["data_key_version"])]
        secret, version = UUID(row["secret_id"]), int(row["version"])
        before = value_aad(self._tenant_id, UUID(row["app_id"]), secret, version)
        after = value_aad(self._tenant_id, UUID(apps.here(row["app_id"])), secret, version)
        try:
            value = decrypt(key, _bytes(row["ciphertext"]), before)
        except SecretUnreadable as exc:
            raise ArchiveRejected("a secret value does not open with its data key") from exc
        row["ciphertext"] = _hex(encrypt(key, value, after))
        return json.dumps(row)

    def _read(self, line: str) -> tuple[dict[str, Any], bytes]:
        row: dict[str, Any] = json.loads(line)
        return row, data_key_context(self._tenant_id, int(row["version"]))


def _arrived(line: str) -> str:
    row: dict[str, Any] = json.loads(line)
    if "placement" in row:
        row.update(placement=SHARED)
    return json.dumps(row)


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("\\x"))


def _hex(value: bytes) -> str:
    return "\\x" + value.hex()
