"""Tenant archives: a tenant exported from one installation is imported into another (its own
app ids, its own master key) with its ids, its users' passwords and, when asked, its secrets;
an archive edited after export, or read with the wrong passphrase, is refused before anything
is written."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import tarfile
from typing import TYPE_CHECKING

import fasteners
import psycopg
import pytest

from tenantry.kit import migrate
from tenantry.kit.context import TenantContext
from tenantry.kit.dsn import as_role
from tenantry.kit.errors import Conflict, InvalidInput
from tenantry.placements.archive import ArchiveRejected
from tenantry.web import create_app
from tests.placements.conftest import SECRET, counts
from tests.support.accounts import Tenant, User, login
from tests.support.cli import tenantry
from tests.support.database import (
    LOCK,
    ROLES,
    RUN,
    SERVER_URL,
    Urls,
    drop_database,
    recreate_database,
    signer_for,
)
from tests.support.http import client_for
from tests.support.wiring import FIXTURES, api_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

    from fastapi import FastAPI

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def elsewhere(worker_id: str) -> Iterator[Urls]:
    """Another installation: a database migrated from scratch, so its apps have other ids."""
    name = f"{RUN}_elsewhere_{worker_id}"
    with fasteners.InterProcessLock(str(LOCK)):
        admin = recreate_database(os.environ[SERVER_URL], name)
        migrate.upgrade(admin, ROLES)
    yield Urls(admin, as_role(admin, ROLES.runtime), as_role(admin, ROLES.platform))
    drop_database(name)


@pytest.fixture
async def other_app(elsewhere: Urls, tmp_path_factory) -> AsyncIterator[FastAPI]:
    """The other installation's service, with a master key of its own (its own data dir)."""
    app = create_app(api_settings(elsewhere, data_dir=tmp_path_factory.mktemp("elsewhere")))
    async with app.router.lifespan_context(app):
        yield app


def trail(urls: Urls, tenant: Tenant) -> list[tuple]:
    with psycopg.connect(urls.admin) as conn:
        return conn.execute(
            "SELECT seq, action, created_at, prev_hash, hash FROM tenantry.audit_log"
            " WHERE tenant_id = %s ORDER BY seq",
            [tenant.id],
        ).fetchall()


async def reveal(app: FastAPI, tenant: Tenant) -> bytes:
    secrets = app.state.services.secrets
    scope = await secrets.scope(tenant.slug, "thinktank")
    *_, value = await secrets.reveal(scope, "mail.key", by=FIXTURES, principal="op", reason="t")
    return value


async def chats(client, user: User) -> list[tuple[str, str]]:
    listed = await client.get("/v1/apps/thinktank/chats", headers=user.auth)
    assert listed.status_code == 200, listed.text
    return sorted((c["id"], c["title"]) for c in listed.json()["items"])


async def test_a_tenant_moves_to_another_installation_whole(
    exported, control_client, control_app, other_app, urls, elsewhere, tmp_path: Path
) -> None:
    tenant, user = exported
    path = tmp_path / "tenant.tar"
    manifest = await control_app.state.services.archives.export(
        tenant.slug, path, by=FIXTURES, passphrase=PASSPHRASE, secrets=True
    )
    assert manifest.secrets == "rewrapped"
    assert manifest.signature
    before = counts(urls, tenant)
    assert sum(before.values()) > 30
    source_apps = {slug: app_id for app_id, slug in manifest.apps.items()}
    assert other_app.state.services.apps.by_slug("thinktank").id != source_apps["thinktank"]

    report = await other_app.state.services.archives.import_(
        path, by=FIXTURES, passphrase=PASSPHRASE
    )
    assert report.tenant_id == tenant.id
    # Every row of every table; each side's audit log has its own record of the move.
    assert counts(elsewhere, tenant) == before
    # The trail arrives with its own seq and times, checked against its archived chain; the
    # hashes there are over the apps' ids there, and the chain verifies.
    source, moved_trail = trail(urls, tenant), trail(elsewhere, tenant)
    assert source[-1][1] == "tenant.exported"
    assert moved_trail[-1][1] == "tenant.imported"
    assert [r[:3] for r in moved_trail[:-1]] == [r[:3] for r in source[:-1]]
    [chain] = [c async for c in other_app.state.services.audit.verify(tenant.slug)]
    assert chain.ok, chain.problem
    assert chain.rows == len(moved_trail)

    # The other installation serves the tenant: the same password signs in and finds the same
    # conversations; the secret opens under that installation's own master key.
    moved = User("thinktank", tenant, user.email, user.password)
    async with client_for(other_app) as client:
        assert (await login(client, moved)).status_code == 200
        assert moved.id == user.id
        assert await chats(client, moved) == await chats(control_client, user)
    assert await reveal(other_app, tenant) == SECRET
    assert await reveal(control_app, tenant) == SECRET

    with pytest.raises(Conflict):  # the same tenant twice
        await other_app.state.services.archives.import_(path, by=FIXTURES, passphrase=PASSPHRASE)


async def test_without_secrets_the_sealed_tables_stay_behind(
    exported, control_app, other_app, elsewhere, tmp_path: Path
) -> None:
    tenant, _ = exported
    path = tmp_path / "plain.tar"
    manifest = await control_app.state.services.archives.export(tenant.slug, path, by=FIXTURES)
    assert manifest.secrets == "excluded"
    assert not manifest.signature
    names = {".".join(t.qualified) for t in manifest.tables}
    assert "tenantry.secret_data_keys" not in names
    assert "tenantry.secret_versions" not in names
    with tarfile.open(path) as archive:
        assert not any(SECRET in archive.extractfile(m).read() for m in archive if m.isfile())
    await other_app.state.services.archives.import_(path, by=FIXTURES)
    imported = counts(elsewhere, tenant)
    assert imported["tenantry.secrets"] == 1
    assert imported["tenantry.secret_versions"] == 0
    with pytest.raises(InvalidInput):
        await other_app.state.services.archives.export(tenant.slug, path, by=FIXTURES, secrets=True)


TENANTS_FILE = "tables/tenantry.tenants.jsonl"


def edited(path: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    """The archive at `path` rewritten after `change` edits its files (name -> bytes)."""
    with tarfile.open(path) as archive:
        files = {m.name: archive.extractfile(m).read() for m in archive if m.isfile()}  # type: ignore[union-attr]  # regular files
    change(files)
    with tarfile.open(path, "w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _manifest(files: dict[str, bytes], change: Callable[[dict], None]) -> None:
    manifest = json.loads(files["manifest.json"])
    change(manifest)
    files["manifest.json"] = json.dumps(manifest).encode()


def rename_tenant(files: dict[str, bytes]) -> None:
    files[TENANTS_FILE] = files[TENANTS_FILE].replace(b'"Moving Co"', b'"Taken Over Ltd"')


def rename_tenant_and_fix_checksum(files: dict[str, bytes]) -> None:
    rename_tenant(files)
    digest = hashlib.sha256(files[TENANTS_FILE]).hexdigest()

    def fix(manifest: dict) -> None:
        for table in manifest["tables"]:
            if table["name"] == "tenants":
                table["sha256"] = digest

    _manifest(files, fix)


def strip_signature(files: dict[str, bytes]) -> None:
    _manifest(files, lambda manifest: manifest.update(signature=""))


def add_a_file(files: dict[str, bytes]) -> None:
    files["tables/tenantry.app_users.jsonl.extra"] = b"{}\n"


@pytest.mark.parametrize(
    ("change", "passphrase", "refusal"),
    [
        (rename_tenant, PASSPHRASE, "does not match its checksum"),
        (rename_tenant_and_fix_checksum, PASSPHRASE, "signature does not match"),
        (None, "another passphrase entirely", "signature does not match"),
        (strip_signature, PASSPHRASE, "not signed"),
        (rename_tenant, None, "give its passphrase"),
        (add_a_file, PASSPHRASE, "does not list"),
    ],
    ids=["row", "row-and-checksum", "passphrase", "unsigned", "no-passphrase", "extra-file"],
)
async def test_a_tampered_archive_is_refused_before_anything_is_written(
    exported, control_app, other_app, elsewhere, tmp_path: Path, change, passphrase, refusal
) -> None:
    tenant, _ = exported
    path = tmp_path / "tenant.tar"
    await control_app.state.services.archives.export(
        tenant.slug, path, by=FIXTURES, passphrase=PASSPHRASE
    )
    if change is not None:
        edited(path, change)
    with pytest.raises(ArchiveRejected, match=refusal):
        await other_app.state.services.archives.import_(path, by=FIXTURES, passphrase=passphrase)
    assert sum(counts(elsewhere, tenant).values()) == 0
    with psycopg.connect(elsewhere.admin) as conn:
        found = conn.execute("SELECT count(*) FROM tenantry.tenants WHERE id = %s", [tenant.id])
        assert found.fetchone() == (0,)


async def test_an_archive_from_another_schema_is_refused(
    exported, control_app, other_app, elsewhere, tmp_path: Path
) -> None:
    tenant, _ = exported
    path = tmp_path / "tenant.tar"
    await control_app.state.services.archives.export(tenant.slug, path, by=FIXTURES)

    def retype(manifest: dict) -> None:
        for table in manifest["tables"]:
            if table["name"] == "tenants":
                table["columns"] = [
                    [name, "integer" if name == "name" else kind] for name, kind in table["columns"]
                ]

    edited(path, lambda files: _manifest(files, retype))
    with pytest.raises(ArchiveRejected, match="bring both installations to one version"):
        await other_app.state.services.archives.import_(path, by=FIXTURES)
    assert sum(counts(elsewhere, tenant).values()) == 0


async def test_the_cli_moves_a_tenant_and_explains_refusals_in_one_line(
    exported, urls, elsewhere, tmp_path: Path
) -> None:
    tenant, _ = exported
    path = tmp_path / "cli.tar"
    signed = {"TENANTRY_ARCHIVE_PASSPHRASE": PASSPHRASE}
    export = ("tenants", "export", tenant.slug, "--out", str(path), "--with-secrets")
    made = await asyncio.to_thread(tenantry, urls, *export, env=signed)
    assert made.returncode == 0, made.stderr
    assert "secrets rewrapped, signed" in made.stdout
    into = ("tenants", "import-archive", str(path))
    done = await asyncio.to_thread(tenantry, elsewhere, *into, env=signed)
    assert done.returncode == 0, done.stderr
    assert f"{tenant.slug} imported" in done.stdout
    refusals = [
        (elsewhere, into, signed, "already here"),
        (elsewhere, into, {}, "give its passphrase"),
        (urls, export, {"TENANTRY_ARCHIVE_PASSPHRASE": "short"}, "shorter than 12"),
        (urls, ("tenants", "export", "nobody-here", "--out", str(path)), {}, "nobody-here"),
    ]
    for where, args, env, message in refusals:
        refused = await asyncio.to_thread(tenantry, where, *args, env=env)
        assert refused.returncode == 1, refused.stdout
        assert refused.stderr.strip().count("\n") == 0, refused.stderr
        assert message in refused.stderr


async def test_an_edited_audit_trail_does_not_import_even_unsigned(
    exported, control_app, other_app, elsewhere, tmp_path: Path
) -> None:
    """Without a passphrase the checksums can be recomputed by whoever edits the file; the
    audit trail's own chain, checked by the database on import, still gives the edit away."""
    tenant, _ = exported
    path = tmp_path / "tenant.tar"
    await control_app.state.services.archives.export(tenant.slug, path, by=FIXTURES)
    audit = "tables/tenantry.audit_log.jsonl"

    def rewrite_history(files: dict[str, bytes]) -> None:
        first, *rest = files[audit].splitlines(keepends=True)
        row = json.loads(first)
        row["actor"] = "someone:else"
        files[audit] = b"".join([json.dumps(row).encode() + b"\n", *rest])
        digest = hashlib.sha256(files[audit]).hexdigest()
        _manifest(files, lambda m: [t.update(sha256=digest) for t in m["tables"]
                                    if t["name"] == "audit_log"])  # fmt: skip

    edited(path, rewrite_history)
    with pytest.raises(ArchiveRejected, match="does not continue the tenant's chain"):
        await other_app.state.services.archives.import_(path, by=FIXTURES)
    assert sum(counts(elsewhere, tenant).values()) == 0


async def test_a_tenant_cannot_restore_a_trail_of_its_own_making(exported, urls) -> None:
    """Restore mode is honoured in a platform context only: the runtime role, in its
    tenant's signed context, asking for it still gets the database's seq, time and hashes."""
    tenant, _ = exported
    signer = signer_for(urls.admin)
    with psycopg.connect(urls.runtime) as conn:
        conn.execute(
            "SELECT set_config('tenantry.context', %s, true),"
            " set_config('tenantry.audit_restore', 'on', true)",
            [signer.sign_tenant(TenantContext(tenant.id, None))],
        )
        stored = conn.execute(
            """INSERT INTO tenantry.audit_log (tenant_id, seq, created_at, actor, action,
                   object_type, prev_hash, hash)
               VALUES (%s, 1, '2001-01-01', 'me', 'history.rewritten', 'thing', '\\x00', '\\x00')
               RETURNING seq, created_at, hash""",
            [tenant.id],
        ).fetchone()
    assert stored is not None
    seq, created_at, digest = stored
    assert seq > 1
    assert created_at.year > 2001
    assert digest != b"\x00"


async def test_an_archive_cannot_write_into_another_tenant_here(
    exported, control_app, other_app, elsewhere, tmp_path: Path
) -> None:
    """An edited (unsigned) archive whose rows name a tenant of the importing installation is
    refused: every row must belong to the archive's own tenant."""
    tenant, _ = exported
    services = other_app.state.services
    victim, _ = await services.tenant_admin.ensure_tenant(
        f"victim-{os.urandom(3).hex()}", "Victim", "free", ["thinktank"], by=FIXTURES
    )
    before = counts(elsewhere, Tenant(victim.id, victim.slug))
    path = tmp_path / "tenant.tar"
    await control_app.state.services.archives.export(tenant.slug, path, by=FIXTURES)
    users = "tables/tenantry.app_users.jsonl"

    def plant(files: dict[str, bytes]) -> None:
        files[users] = files[users].replace(str(tenant.id).encode(), str(victim.id).encode(), 1)
        digest = hashlib.sha256(files[users]).hexdigest()
        _manifest(files, lambda m: [t.update(sha256=digest) for t in m["tables"]
                                    if t["name"] == "app_users"])  # fmt: skip

    edited(path, plant)
    with pytest.raises(ArchiveRejected, match="rows of another tenant"):
        await services.archives.import_(path, by=FIXTURES)
    assert counts(elsewhere, Tenant(victim.id, victim.slug)) == before
    assert sum(counts(elsewhere, tenant).values()) == 0
