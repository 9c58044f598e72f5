"""A database server without pgvector: the knowledge migration still runs, documents are stored
for full-text search, search defaults to full-text, and vector or hybrid search is refused
with a clear problem. On a server with pgvector, its own database is migrated without it."""

from __future__ import annotations

import psycopg

from tenantry.isolation.audit import audit
from tenantry.kit import migrate
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services
from tenantry.web import create_app
from tenantry.workloads import MODULE
from tests.support.accounts import make_tenant
from tests.support.database import ROLES
from tests.support.http import client_for
from tests.support.wiring import api_settings, forget_services, register_services
from tests.support.workload_knowledge import HANDBOOK, add_document, editor, search


def without_pgvector(urls) -> None:
    """The knowledge revision again, on a database whose server has no pgvector to offer."""
    with migrate.owner_transaction(urls.admin, ROLES) as connection:
        migrate.downgrade_module(connection, ROLES, MODULE, "w0003@-1")
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        conn.execute("DROP EXTENSION IF EXISTS vector")
    with migrate.owner_transaction(urls.admin, ROLES) as connection:
        assert migrate.upgrade_module(connection, ROLES, MODULE) == ("w0003",)


async def test_search_is_fulltext_only_and_says_why(scratch_urls) -> None:
    without_pgvector(scratch_urls)
    assert audit(scratch_urls.admin, ROLES) == []
    with psycopg.connect(scratch_urls.admin) as conn:
        columns = conn.execute(
            "SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute"
            " WHERE attrelid = 'ai.knowledge_chunks'::regclass AND attnum > 0"
        ).fetchone()[0]
    assert "embedding" not in columns
    assert "search" in columns

    db = Database(scratch_urls.runtime, scratch_urls.platform, min_size=1, max_size=2)
    async with db:
        register_services(db, build_services(api_settings(scratch_urls), db, Metrics()))
        app = create_app(api_settings(scratch_urls), database=db)
        try:
            async with app.router.lifespan_context(app), client_for(app) as client:
                tenant = await make_tenant(db, "thinktank")
                user = await editor(client, db, tenant, "plain@example.com")
                document = await add_document(client, user, "Handbook", HANDBOOK)
                assert document["status"] == "text_only"
                assert document["embedder"] is None

                found = await search(client, user, "broken laptop swapped")
                assert found["mode"] == "fulltext"
                assert found["strategy"] == "none"
                assert found["hits"][0]["document_id"] == document["id"]
                assert found["hits"][0]["vector_rank"] is None
                assert "laptop" in found["hits"][0]["snippet"]
                for mode in ("vector", "hybrid"):
                    refused = await search(client, user, "laptop", expect=422, mode=mode)
                    assert refused["code"] == "vector_search_unavailable"
                    assert "pgvector" in refused["detail"]
                    assert "mode=fulltext" in refused["detail"]
        finally:
            forget_services(db)


def test_the_migration_goes_down_and_up_cleanly(scratch_urls) -> None:
    revision = "w0003"
    with migrate.owner_transaction(scratch_urls.admin, ROLES) as connection:
        undone = migrate.downgrade_module(connection, ROLES, MODULE, f"{revision}@-1")
    assert undone == (revision,)
    with psycopg.connect(scratch_urls.admin) as conn:
        left = conn.execute(
            "SELECT to_regclass('ai.knowledge_chunks'), (SELECT count(*) FROM tenantry.privileges"
            " WHERE key = 'knowledge.manage'), (SELECT count(*) FROM tenantry.scoped_tables"
            " WHERE table_name LIKE 'knowledge%%')"
        ).fetchone()
    assert left == (None, 0, 0)
    with migrate.owner_transaction(scratch_urls.admin, ROLES) as connection:
        assert migrate.upgrade_module(connection, ROLES, MODULE) == (revision,)
    assert audit(scratch_urls.admin, ROLES) == []
