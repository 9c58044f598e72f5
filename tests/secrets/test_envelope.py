"""Envelope encryption of secrets: round trips, versions, rotation of data keys and master keys,
and ciphertexts that refuse to decrypt anywhere but in the row they were written for."""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantry.kit.actor import Actor
from tenantry.secrets.keys import LocalMasterKeys
from tenantry.secrets.models import SecretDisabled, SecretNotFound, SecretScope, SecretUnreadable
from tenantry.secrets.service import Secrets
from tests.support.accounts import Tenant, make_tenant, transition
from tests.support.wiring import FIXTURES, services_for

WHO = {"by": FIXTURES, "principal": "operator", "reason": "testing"}


def secrets_with(db, *keys: bytes) -> Secrets:
    """The secrets service under the tests' own master keys (newest last)."""
    services = services_for(db)
    return Secrets(db, services.apps, services.tenants, services.audit, LocalMasterKeys(keys))


@pytest.fixture(scope="module")
def master() -> bytes:
    return os.urandom(32)


@pytest.fixture
async def scope(db) -> SecretScope:
    tenant = await make_tenant(db, "thinktank", "launchboard")
    await services_for(db).apps.reload()
    return SecretScope(tenant.id, services_for(db).apps.by_slug("thinktank").id)


def owner(urls):
    return psycopg.connect(urls.admin, row_factory=dict_row, autocommit=True)


async def test_a_value_round_trips_through_versions(db, master, scope) -> None:
    secrets = secrets_with(db, master)
    first = await secrets.put(scope, "db-password", b"one", **WHO)
    second = await secrets.put(scope, "db-password", b"two", **WHO)
    assert (first.current_version, second.current_version, second.versions) == (1, 2, 2)
    assert (await secrets.reveal(scope, "db-password", **WHO))[1:] == (2, b"two")
    assert (await secrets.reveal(scope, "db-password", version=1, **WHO))[1:] == (1, b"one")
    rotated = await secrets.rotate(scope, "db-password", **WHO)
    assert rotated.current_version == 3
    _, _, fresh = await secrets.reveal(scope, "db-password", **WHO)
    assert fresh not in (b"one", b"two")
    assert len(fresh) >= 32
    await secrets.disable(scope, "db-password", **WHO)
    with pytest.raises(SecretDisabled):
        await secrets.reveal(scope, "db-password", **WHO)
    with pytest.raises(SecretNotFound):
        await secrets.reveal(scope, "nothing", **WHO)
    [listed] = await secrets.metadata(scope)
    assert (listed.name, listed.status, listed.versions) == ("db-password", "disabled", 3)
    actions = [e.action for e in await secrets.access_log(scope.tenant_id)]
    assert actions == ["disable", "read", "rotate", "read", "read", "write", "write"]


async def test_a_reason_is_required(db, master, scope) -> None:
    secrets = secrets_with(db, master)
    await secrets.put(scope, "k", b"v", **WHO)
    with pytest.raises(Exception, match="reason"):
        await secrets.reveal(scope, "k", by=FIXTURES, principal="operator", reason="  ")


async def test_the_sealing_api_binds_tenant_app_and_purpose(db, master, scope) -> None:
    secrets = secrets_with(db, master)
    other_app = services_for(db).apps.by_slug("launchboard").id
    async with db.platform_transaction() as tx:
        sealed = await secrets.box.seal_in(tx, scope.tenant_id, scope.app_id, "hooks", b"s3")
        assert (
            await secrets.box.open_in(tx, scope.tenant_id, scope.app_id, "hooks", sealed) == b"s3"
        )
        for tenant, app, purpose in (
            (scope.tenant_id, scope.app_id, "other"),
            (scope.tenant_id, other_app, "hooks"),
            (scope.tenant_id, None, "hooks"),
        ):
            with pytest.raises(SecretUnreadable):
                await secrets.box.open_in(tx, tenant, app, purpose, sealed)


def _ciphertext(conn, scope: SecretScope, name: str, version: int) -> bytes:
    row = conn.execute(
        """SELECT v.ciphertext FROM tenantry.secret_versions v
             JOIN tenantry.secrets s ON (s.tenant_id, s.id) = (v.tenant_id, v.secret_id)
            WHERE s.tenant_id = %s AND s.app_id = %s AND s.name = %s AND v.version = %s""",
        [scope.tenant_id, scope.app_id, name, version],
    ).fetchone()
    return bytes(row["ciphertext"])


def _overwrite(conn, scope: SecretScope, name: str, version: int, blob: bytes) -> None:
    updated = conn.execute(
        """UPDATE tenantry.secret_versions v SET ciphertext = %s FROM tenantry.secrets s
            WHERE (s.tenant_id, s.id) = (v.tenant_id, v.secret_id) AND s.tenant_id = %s
              AND s.app_id = %s AND s.name = %s AND v.version = %s""",
        [blob, scope.tenant_id, scope.app_id, name, version],
    )
    assert updated.rowcount == 1


async def test_a_ciphertext_moved_to_another_row_or_version_does_not_decrypt(
    db, urls, master, scope
) -> None:
    secrets = secrets_with(db, master)
    await secrets.put(scope, "a", b"alpha-1", **WHO)
    await secrets.put(scope, "a", b"alpha-2", **WHO)
    await secrets.put(scope, "b", b"bravo-1", **WHO)
    with owner(urls) as conn:
        a1 = _ciphertext(conn, scope, "a", 1)
        _overwrite(conn, scope, "b", 1, a1)  # another row (secret)
        _overwrite(conn, scope, "a", 2, a1)  # another version of the same secret
    for name in ("a", "b"):
        with pytest.raises(SecretUnreadable):
            await secrets.reveal(scope, name, **WHO)
    assert (await secrets.reveal(scope, "a", version=1, **WHO))[2] == b"alpha-1"


async def test_a_ciphertext_moved_to_another_app_does_not_decrypt(db, urls, master, scope) -> None:
    secrets = secrets_with(db, master)
    await secrets.put(scope, "moved", b"value", **WHO)
    other = SecretScope(scope.tenant_id, services_for(db).apps.by_slug("launchboard").id)
    with owner(urls) as conn:
        # The access log is append-only: it stays where it was written.
        for table in ("secret_versions", "secrets"):
            conn.execute(
                f"UPDATE tenantry.{table} SET app_id = %s WHERE tenant_id = %s AND app_id = %s",
                [other.app_id, scope.tenant_id, scope.app_id],
            )
    with pytest.raises(SecretUnreadable):
        await secrets.reveal(other, "moved", **WHO)


async def test_a_ciphertext_moved_to_another_tenant_does_not_decrypt(
    db, urls, master, scope
) -> None:
    secrets = secrets_with(db, master)
    await secrets.put(scope, "s", b"tenant-a", **WHO)
    tenant_b = await make_tenant(db, "thinktank")
    b = SecretScope(tenant_b.id, scope.app_id)
    await secrets.put(b, "s", b"tenant-b", **WHO)
    with owner(urls) as conn:
        _overwrite(conn, b, "s", 1, _ciphertext(conn, scope, "s", 1))
    with pytest.raises(SecretUnreadable):
        await secrets.reveal(b, "s", **WHO)


async def test_data_key_rotation_keeps_old_versions_readable(db, master, scope, urls) -> None:
    secrets = secrets_with(db, master)
    await secrets.put(scope, "k", b"under-key-1", **WHO)
    slug = (await services_for(db).tenants.get(scope.tenant_id)).slug
    assert await secrets.rotate_data_key(slug, FIXTURES) == 2
    await secrets.put(scope, "k", b"under-key-2", **WHO)
    with owner(urls) as conn:
        used = conn.execute(
            """SELECT version, data_key_version FROM tenantry.secret_versions
                WHERE tenant_id = %s ORDER BY version""",
            [scope.tenant_id],
        ).fetchall()
    assert [(r["version"], r["data_key_version"]) for r in used] == [(1, 1), (2, 2)]
    assert (await secrets.reveal(scope, "k", version=1, **WHO))[2] == b"under-key-1"
    assert (await secrets.reveal(scope, "k", **WHO))[2] == b"under-key-2"


async def test_rotate_master_rewraps_without_touching_values(db, urls, master, scope) -> None:
    old = secrets_with(db, master)
    await old.put(scope, "k", b"kept", **WHO)
    async with db.platform_transaction() as tx:
        sealed = await old.box.seal_in(tx, scope.tenant_id, None, "p", b"sealed")
    with owner(urls) as conn:
        before = conn.execute(
            "SELECT version, ciphertext FROM tenantry.secret_versions WHERE tenant_id = %s",
            [scope.tenant_id],
        ).fetchall()
    new_master = os.urandom(32)
    both = secrets_with(db, master, new_master)
    assert (await both.rewrap_all()).rewrapped >= 1
    [key] = await both.data_keys(scope.tenant_id)
    assert key.master_key_id == both.box.kek.current_id
    assert key.rewrapped_at is not None
    with owner(urls) as conn:
        after = conn.execute(
            "SELECT version, ciphertext FROM tenantry.secret_versions WHERE tenant_id = %s",
            [scope.tenant_id],
        ).fetchall()
    assert after == before
    # The new master key alone now opens everything; the old one alone no longer does.
    only_new = secrets_with(db, new_master)
    assert (await only_new.reveal(scope, "k", **WHO))[2] == b"kept"
    async with db.platform_transaction() as tx:
        assert await only_new.box.open_in(tx, scope.tenant_id, None, "p", sealed) == b"sealed"
    with pytest.raises(Exception, match="not loaded"):
        await secrets_with(db, master).reveal(scope, "k", **WHO)


@pytest.mark.parametrize("statement", ["UPDATE", "DELETE", "TRUNCATE"])
async def test_the_access_log_is_append_only_for_the_owner_too(
    db, urls, master, scope, statement
) -> None:
    await secrets_with(db, master).put(scope, "k", b"v", **WHO)
    sql = {
        "UPDATE": "UPDATE tenantry.secret_access_log SET reason = 'x' WHERE tenant_id = %s",
        "DELETE": "DELETE FROM tenantry.secret_access_log WHERE tenant_id = %s",
        "TRUNCATE": "TRUNCATE tenantry.secret_access_log",
    }[statement]
    with owner(urls) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege, match="append"):
        conn.execute(sql, [] if statement == "TRUNCATE" else [scope.tenant_id])


async def test_the_actor_is_recorded(db, master, scope) -> None:
    secrets = secrets_with(db, master)
    await secrets.put(scope, "k", b"v", by=Actor("cli", "ops"), principal="operator", reason="r")
    [entry] = await secrets.access_log(scope.tenant_id)
    assert (entry.actor, entry.principal, entry.reason) == ("cli:ops", "operator", "r")


async def test_a_purge_removes_secrets_and_their_access_log(db, master, scope, urls) -> None:
    """The access log refuses every DELETE but a purge of a deprovisioned tenant."""
    await secrets_with(db, master).put(scope, "k", b"v", **WHO)
    services = services_for(db)
    slug = (await services.tenants.get(scope.tenant_id)).slug
    for step in ("suspend", "deprovision"):
        await transition(db, Tenant(scope.tenant_id, slug), step)
    report = await services.tenant_admin.purge(slug, by=FIXTURES, reason="t", force=True)
    assert report.deleted["tenantry.secret_access_log"] == 1
    assert report.deleted["tenantry.secret_data_keys"] == 1
