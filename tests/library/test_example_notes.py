"""The example outside project (`examples/notes`), for real: its entry point, its migrations on a
database of its own, its router served by `create_app`, and users of two tenants who each see
only their own notes. The project is imported from its folder, never installed."""

from __future__ import annotations

import importlib
import sys
import tomllib
from typing import TYPE_CHECKING

import psycopg
import pytest

from tenantry.isolation.audit import audit
from tenantry.kit import migrate
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services
from tenantry.web import create_app
from tests.support.accounts import make_tenant, signed_in
from tests.support.database import ROLES, ROOT, clone, drop_database
from tests.support.http import client_for
from tests.support.wiring import api_settings, forget_services, register_services

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx
    from fastapi import FastAPI

    from tenantry.kit.modules import Module
    from tests.support.accounts import User
    from tests.support.database import Urls

EXAMPLE = ROOT / "examples" / "notes"
NOTES = "/v1/apps/thinktank/notes"


@pytest.fixture(scope="module")
def notes_module() -> Iterator[Module]:
    sys.path.insert(0, str(EXAMPLE))
    try:
        yield importlib.import_module("notes").MODULE
    finally:
        sys.path.remove(str(EXAMPLE))


@pytest.fixture(scope="module")
def notes_urls(worker_name: str, notes_module: Module) -> Iterator[Urls]:
    name = f"{worker_name}_notes"
    urls = clone(name)
    with migrate.owner_transaction(urls.admin, ROLES) as connection:
        assert migrate.upgrade_module(connection, ROLES, notes_module) == ("n0001",)
    yield urls
    drop_database(name)


@pytest.fixture(scope="module")
async def notes_db(notes_urls: Urls) -> AsyncIterator[Database]:
    database = Database(notes_urls.runtime, notes_urls.platform, min_size=1, max_size=4)
    async with database:
        register_services(database, build_services(api_settings(notes_urls), database, Metrics()))
        yield database
        forget_services(database)


@pytest.fixture(scope="module")
async def notes_app(
    notes_urls: Urls, notes_db: Database, notes_module: Module
) -> AsyncIterator[FastAPI]:
    app = create_app(api_settings(notes_urls), database=notes_db, modules=(notes_module,))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def notes_client(notes_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(notes_app) as client:
        yield client


async def writer(client: httpx.AsyncClient, db: Database, email: str) -> User:
    """A user of thinktank in a tenant of their own, signed up and in through the API."""
    tenant = await make_tenant(db, "thinktank")
    return await signed_in(client, "thinktank", tenant, email)


async def add(client: httpx.AsyncClient, user: User, body: str) -> str:
    response = await client.post(NOTES, json={"body": body}, headers=user.auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def bodies(client: httpx.AsyncClient, user: User, **params: object) -> list[str]:
    response = await client.get(NOTES, params=params, headers=user.auth)
    assert response.status_code == 200, response.text
    return [note["body"] for note in response.json()]


def test_the_entry_point_names_the_module(notes_module: Module) -> None:
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    target = project["project"]["entry-points"]["tenantry.modules"]["notes"]
    package, _, attribute = target.partition(":")
    assert getattr(importlib.import_module(package), attribute) is notes_module
    assert notes_module.name == "notes"
    assert notes_module.migrations is not None
    assert (notes_module.migrations / "env.py").is_file()


def test_its_routes_are_documented(notes_app: FastAPI) -> None:
    paths = notes_app.openapi()["paths"]
    listing = paths["/v1/apps/{app}/notes"]["get"]
    assert listing["security"] == [{"HTTPBearer": ["profile"]}]
    assert {p["name"] for p in listing["parameters"]} == {"app", "before", "limit"}
    assert {"401", "404", "422"} <= set(listing["responses"])
    assert paths["/v1/apps/{app}/notes/{note_id}"]["patch"]["tags"] == ["notes"]


def test_its_migration_gives_the_table_every_guarantee(
    notes_urls: Urls, scratch_urls: Urls, notes_module: Module
) -> None:
    assert audit(notes_urls.admin, ROLES) == []
    with psycopg.connect(notes_urls.admin) as conn:
        table = conn.execute(
            "SELECT c.relrowsecurity, c.relforcerowsecurity, s.scope, s.runtime_access "
            "FROM pg_class c JOIN tenantry.scoped_tables s "
            "ON s.table_schema = 'notes' AND s.table_name = 'notes' "
            "WHERE c.oid = 'notes.notes'::regclass"
        ).fetchone()
    assert table == (True, True, "app", "read_write")
    # Down and up again on a database of its own: nothing is left behind.
    with migrate.owner_transaction(scratch_urls.admin, ROLES) as connection:
        migrate.upgrade_module(connection, ROLES, notes_module)
    with migrate.owner_transaction(scratch_urls.admin, ROLES) as connection:
        assert migrate.downgrade_module(connection, ROLES, notes_module) == ("n0001",)
    with psycopg.connect(scratch_urls.admin) as conn:
        left = conn.execute(
            "SELECT to_regnamespace('notes'), "
            "(SELECT count(*) FROM tenantry.scoped_tables WHERE table_schema = 'notes')"
        ).fetchone()
    assert left == (None, 0)
    assert audit(scratch_urls.admin, ROLES) == []


async def test_users_of_two_tenants_each_see_only_their_notes(
    notes_client: httpx.AsyncClient, notes_db: Database
) -> None:
    alice = await writer(notes_client, notes_db, "alice@example.com")
    bob = await writer(notes_client, notes_db, "bob@example.com")
    alices = [await add(notes_client, alice, f"alice {n}") for n in range(2)]
    bobs = await add(notes_client, bob, "bob 0")

    assert await bodies(notes_client, alice) == ["alice 1", "alice 0"]
    assert await bodies(notes_client, bob) == ["bob 0"]
    # Naming the other's note finds nothing, through SQL and through the ORM alike.
    for note in alices:
        read = await notes_client.get(f"{NOTES}/{note}", headers=bob.auth)
        assert read.status_code == 404
        assert read.json()["code"] == "not_found"
        edit = await notes_client.patch(f"{NOTES}/{note}", json={"body": "x"}, headers=bob.auth)
        assert edit.status_code == 404
    own = await notes_client.get(f"{NOTES}/{bobs}", headers=bob.auth)
    assert own.status_code == 200
    assert own.json()["body"] == "bob 0"
    assert await bodies(notes_client, alice) == ["alice 1", "alice 0"]


async def test_notes_are_private_within_a_tenant_too(
    notes_client: httpx.AsyncClient, notes_db: Database
) -> None:
    carol = await writer(notes_client, notes_db, "carol@example.com")
    colleague = await signed_in(notes_client, "thinktank", carol.tenant, "dave@example.com")
    note = await add(notes_client, carol, "carol's")
    assert await bodies(notes_client, colleague) == []
    read = await notes_client.get(f"{NOTES}/{note}", headers=colleague.auth)
    assert read.status_code == 404


async def test_editing_through_the_orm(notes_client: httpx.AsyncClient, notes_db: Database) -> None:
    erin = await writer(notes_client, notes_db, "erin@example.com")
    note = await add(notes_client, erin, "draft")
    edit = await notes_client.patch(f"{NOTES}/{note}", json={"body": "final"}, headers=erin.auth)
    assert edit.status_code == 200, edit.text
    assert edit.json()["body"] == "final"
    assert edit.json()["updated_at"] is not None
    assert await bodies(notes_client, erin) == ["final"]


async def test_pages_follow_the_keyset(notes_client: httpx.AsyncClient, notes_db: Database) -> None:
    frank = await writer(notes_client, notes_db, "frank@example.com")
    ids = [await add(notes_client, frank, f"note {n}") for n in range(5)]
    assert await bodies(notes_client, frank, limit=2) == ["note 4", "note 3"]
    assert await bodies(notes_client, frank, limit=2, before=ids[3]) == ["note 2", "note 1"]
    assert await bodies(notes_client, frank, limit=2, before=ids[1]) == ["note 0"]
    refused = await notes_client.get(NOTES, params={"limit": 0}, headers=frank.auth)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"


async def test_without_a_token_there_is_nothing(notes_client: httpx.AsyncClient) -> None:
    response = await notes_client.get(NOTES)
    assert response.status_code == 401
