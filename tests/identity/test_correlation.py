"""A new identity and its cross-app correlation commit together, and the runtime role can
correlate nothing but its own context's users."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantry.identity import outbox
from tenantry.identity.directory import UserDirectory
from tenantry.identity.repository import users
from tenantry.kit.context import TenantContext
from tests.support.accounts import make_tenant
from tests.support.wiring import PASSWORD, services_for

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.apps.models import App
    from tenantry.kit.context import ContextSigner
    from tenantry.kit.db import Database
    from tests.support.accounts import Tenant
    from tests.support.database import Urls


class Injected(Exception):
    pass


async def _app(db: Database, slug: str) -> App:
    async with db.platform_transaction() as tx:
        return await services_for(db).apps.require_in(tx, slug)


def _correlations(urls: Urls, user_id: UUID) -> list[dict]:
    """The user's correlation rows, read as the superuser (no policy in the way)."""
    with psycopg.connect(urls.admin, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT person_id, tenant_id, app_id FROM tenantry.cross_app_user_correlation "
            "WHERE app_user_id = %s",
            [user_id],
        ).fetchall()


def _users_named(urls: Urls, tenant: Tenant, email: str) -> int:
    with psycopg.connect(urls.admin) as conn:
        row = conn.execute(
            "SELECT count(*) FROM tenantry.app_users WHERE tenant_id = %s AND email = %s",
            [tenant.id, email],
        ).fetchone()
    assert row is not None
    return int(row[0])


async def _uncorrelated_user(db: Database, tenant: Tenant, app: App, email: str) -> UUID:
    """A user written without its correlation, as a victim the attacker tries to claim."""
    async with db.tenant_transaction(TenantContext(tenant.id, app.id)) as tx:
        user = await users.create(tx, tenant.id, app.id, email)
    return user.id


async def test_signup_commits_the_user_with_its_correlation(db: Database, urls: Urls) -> None:
    tenant = await make_tenant(db, "thinktank", "launchboard")
    identity = services_for(db).identity
    for slug in ("thinktank", "launchboard"):
        await identity.signup(await _app(db, slug), tenant.slug, "ada@corr.test", PASSWORD, None)
    directory = UserDirectory(db)
    found = [
        await directory.find(tenant.id, (await _app(db, slug)).id, "ada@corr.test")
        for slug in ("thinktank", "launchboard")
    ]
    rows = [_correlations(urls, user.id) for user in found if user is not None]
    assert [len(r) for r in rows] == [1, 1]
    # One person across the tenant's apps.
    assert rows[0][0]["person_id"] == rows[1][0]["person_id"]


async def test_a_failed_signup_leaves_neither_user_nor_correlation(
    db: Database, urls: Urls, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant(db, "thinktank")
    app = await _app(db, "thinktank")

    async def fail(*_: object) -> None:
        # After the user and its correlation are written, before the commit.
        raise Injected

    monkeypatch.setattr(outbox, "send_code", fail)
    with pytest.raises(Injected):
        await services_for(db).identity.signup(app, tenant.slug, "lost@corr.test", PASSWORD, None)
    assert _users_named(urls, tenant, "lost@corr.test") == 0
    with psycopg.connect(urls.admin) as conn:
        row = conn.execute(
            "SELECT count(*) FROM tenantry.cross_app_user_correlation "
            "WHERE tenant_id = %s AND email_normalized = 'lost@corr.test'",
            [tenant.id],
        ).fetchone()
    assert row == (0,)


async def test_the_directory_adds_a_user_with_its_correlation_or_nothing(
    db: Database, urls: Urls, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant(db, "thinktank")
    app = await _app(db, "thinktank")
    directory = UserDirectory(db)
    added = await directory.add(tenant.id, app.id, "grace@corr.test", password_hash=None)
    assert len(_correlations(urls, added.id)) == 1

    async def fail(*_: object) -> None:
        raise Injected

    monkeypatch.setattr(users, "set_preference", fail)
    with pytest.raises(Injected):
        await directory.add(
            tenant.id, app.id, "half@corr.test", password_hash=None, preferences={"theme": "x"}
        )
    assert _users_named(urls, tenant, "half@corr.test") == 0


# Attacks as the runtime role, the way any SQL running in a request would try ---------------------


def _call_as_runtime(urls: Urls, tenant_id: UUID, user_id: UUID, token: str | None) -> None:
    with psycopg.connect(urls.runtime) as conn:
        if token is not None:
            conn.execute("SELECT set_config('tenantry.context', %s, true)", [token])
        conn.execute("SELECT tenantry.correlate_app_user(%s, %s)", [tenant_id, user_id])
        conn.commit()


async def test_no_context_correlates_nothing(db: Database, urls: Urls) -> None:
    tenant = await make_tenant(db, "thinktank")
    victim = await _uncorrelated_user(db, tenant, await _app(db, "thinktank"), "v1@corr.test")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _call_as_runtime(urls, tenant.id, victim, None)
    assert _correlations(urls, victim) == []


async def test_a_forged_context_correlates_nothing(
    db: Database, urls: Urls, signer: ContextSigner
) -> None:
    own = await make_tenant(db, "thinktank")
    other = await make_tenant(db, "thinktank")
    app = await _app(db, "thinktank")
    victim = await _uncorrelated_user(db, other, app, "v2@corr.test")
    # A genuine token of one's own tenant with the tenant swapped for the victim's.
    parts = signer.sign_tenant(TenantContext(own.id, app.id)).split(".")
    parts[2] = str(other.id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _call_as_runtime(urls, other.id, victim, ".".join(parts))
    assert _correlations(urls, victim) == []


async def test_another_tenants_or_apps_user_cannot_be_correlated(
    db: Database, urls: Urls, signer: ContextSigner
) -> None:
    own = await make_tenant(db, "thinktank", "launchboard")
    other = await make_tenant(db, "thinktank")
    thinktank, launchboard = await _app(db, "thinktank"), await _app(db, "launchboard")
    token = signer.sign_tenant(TenantContext(own.id, thinktank.id))
    for where, victim in (
        (other, await _uncorrelated_user(db, other, thinktank, "v3@corr.test")),
        (own, await _uncorrelated_user(db, own, launchboard, "v4@corr.test")),
    ):
        with pytest.raises(psycopg.errors.NoDataFound):
            _call_as_runtime(urls, own.id, victim, token)
        # Naming the victim's tenant instead: not the context's tenant.
        if where is other:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                _call_as_runtime(urls, other.id, victim, token)
        assert _correlations(urls, victim) == []


async def test_only_the_runtime_role_may_call_it_and_it_cannot_read_the_table(
    urls: Urls,
) -> None:
    with (
        psycopg.connect(urls.platform) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT tenantry.correlate_app_user(gen_random_uuid(), gen_random_uuid())")
    with psycopg.connect(urls.runtime) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM tenantry.cross_app_user_correlation")
