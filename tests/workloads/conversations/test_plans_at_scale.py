"""The conversations' repository reads, planned at scale as the runtime role in a signed context.

1,000 tenants of thinktank with 20 users each; 1M chat sessions (50 per user) and 1M messages,
plus a heavy user with 20,000 more chats, one of them 50,000 messages long; 200,000 meetings and
memories, 100,000 ratings, preferences, personalities and widgets. Every read runs through a
transaction that first asks PostgreSQL for the plan it executes (EXPLAIN ANALYZE, same context,
same parameters), with the rules of `tests/isolation/test_plans_at_scale.py` (no sequential
scan, no filter discarding rows, point reads touch a handful of rows), and pages must walk an
index: no sort, and no more rows read than the page holds (plus the lookahead row).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.workloads.conversations.caller import Caller
from tenantry.workloads.conversations.repository import (
    feedback,
    meetings,
    memories,
    messages,
    personalities,
    preferences,
    sessions,
    widgets,
)
from tests.isolation.test_plans_at_scale import PlanRecorder, _Rollback, problems, recorded, scans
from tests.support.database import clone

PAGE = 51  # a page of 50 and the row that tells whether another follows
SEED = """
SET synchronous_commit = off;
INSERT INTO tenantry.tenants (id, slug, name, status)
SELECT gen_random_uuid(), 'conv-' || g, 'Conv ' || g, 'active' FROM generate_series(1, 1000) g;
INSERT INTO tenantry.tenant_apps (tenant_id, app_id)
SELECT t.id, a.id FROM tenantry.tenants t, tenantry.apps a
 WHERE t.slug LIKE 'conv-%' AND a.slug = 'thinktank';
INSERT INTO tenantry.app_users (tenant_id, app_id, id, email, display_name, password_hash)
SELECT ta.tenant_id, ta.app_id, gen_random_uuid(), 'user' || g || '@example.com', 'User ' || g, 'x'
  FROM tenantry.tenant_apps ta JOIN tenantry.tenants t ON t.id = ta.tenant_id
       CROSS JOIN generate_series(1, 20) g
 WHERE t.slug LIKE 'conv-%';
CREATE TEMP TABLE seeded AS
SELECT u.tenant_id, u.app_id, u.id, u.email, t.slug = 'conv-1' AND u.email = 'user1@example.com'
       AS heavy
  FROM tenantry.app_users u JOIN tenantry.tenants t ON t.id = u.tenant_id
 WHERE t.slug LIKE 'conv-%';
-- The rows below are consistent by construction: skip the per-row key checks to seed faster.
SET session_replication_role = replica;
INSERT INTO ai.personalities (tenant_id, app_id, id, name, model, system_prompt)
SELECT ta.tenant_id, ta.app_id, uuidv7(), 'Persona ' || g, 'model-' || (g % 3), 'Be helpful.'
  FROM tenantry.tenant_apps ta JOIN tenantry.tenants t ON t.id = ta.tenant_id
       CROSS JOIN generate_series(1, 10) g
 WHERE t.slug LIKE 'conv-%';
INSERT INTO ai.widgets (tenant_id, app_id, id, name, allowed_origins)
SELECT ta.tenant_id, ta.app_id, uuidv7(), 'Widget ' || g, ARRAY['https://w' || g || '.example']
  FROM tenantry.tenant_apps ta JOIN tenantry.tenants t ON t.id = ta.tenant_id
       CROSS JOIN generate_series(1, 3) g
 WHERE t.slug LIKE 'conv-%';
INSERT INTO ai.chat_sessions (tenant_id, app_id, id, app_user_id, title, status, created_at,
                              updated_at, last_message_at, message_count)
SELECT s.tenant_id, s.app_id, uuidv7(), s.id, 'chat ' || g,
       CASE WHEN g % 5 = 0 THEN 'archived' ELSE 'active' END,
       now() - g * interval '1 hour', now() - g * interval '1 hour',
       now() - g * interval '1 hour' + (g % 7) * interval '1 minute',
       CASE WHEN g <= 2 THEN 25 ELSE 0 END
  FROM seeded s CROSS JOIN generate_series(1, 50) g;
INSERT INTO ai.chat_sessions (tenant_id, app_id, id, app_user_id, title, created_at, updated_at,
                              last_message_at)
SELECT s.tenant_id, s.app_id, uuidv7(), s.id, 'more ' || g, now() - g * interval '1 minute',
       now() - g * interval '1 minute', now() - g * interval '1 minute'
  FROM seeded s CROSS JOIN generate_series(1, 20000) g WHERE s.heavy;
-- 25 messages in each user's two newest chats: 1M messages.
INSERT INTO ai.chat_messages (tenant_id, app_id, id, session_id, sequence, role, content, status,
                              created_at, completed_at)
SELECT c.tenant_id, c.app_id, uuidv7(), c.id, n,
       CASE WHEN n % 2 = 1 THEN 'user' ELSE 'assistant' END, 'message ' || n, 'complete',
       c.created_at + n * interval '1 second', c.created_at + n * interval '1 second'
  FROM ai.chat_sessions c CROSS JOIN generate_series(1, 25) n
 WHERE c.title IN ('chat 1', 'chat 2');
-- One very long chat of the heavy user.
UPDATE ai.chat_sessions c SET message_count = 50000
  FROM seeded s WHERE s.heavy AND c.app_user_id = s.id AND c.title = 'more 1';
INSERT INTO ai.chat_messages (tenant_id, app_id, id, session_id, sequence, role, content, status,
                              created_at, completed_at)
SELECT c.tenant_id, c.app_id, uuidv7(), c.id, n, 'user', 'long ' || n, 'complete', now(), now()
  FROM ai.chat_sessions c JOIN seeded s ON s.id = c.app_user_id AND s.heavy
       CROSS JOIN generate_series(1, 50000) n
 WHERE c.title = 'more 1';
INSERT INTO ai.feedback (tenant_id, app_id, id, message_id, app_user_id, rating)
SELECT m.tenant_id, m.app_id, uuidv7(), m.id, c.app_user_id, 1 + m.sequence % 5
  FROM ai.chat_messages m JOIN ai.chat_sessions c
    ON c.tenant_id = m.tenant_id AND c.app_id = m.app_id AND c.id = m.session_id
 WHERE m.sequence % 10 = 0 AND c.title IN ('chat 1', 'chat 2');
INSERT INTO ai.meetings (tenant_id, app_id, id, organizer_id, title, starts_at, ends_at)
SELECT s.tenant_id, s.app_id, uuidv7(), s.id, 'meeting ' || g, now() + g * interval '1 day',
       now() + g * interval '1 day' + interval '30 minutes'
  FROM seeded s CROSS JOIN generate_series(1, 10) g;
INSERT INTO ai.memories (tenant_id, app_id, id, app_user_id, content)
SELECT s.tenant_id, s.app_id, uuidv7(), s.id, 'memory ' || g
  FROM seeded s CROSS JOIN generate_series(1, 10) g;
INSERT INTO ai.preferences (tenant_id, app_id, id, app_user_id, language)
SELECT s.tenant_id, s.app_id, uuidv7(), s.id, 'en' FROM seeded s;
SET session_replication_role = origin;
"""


@dataclass(frozen=True)
class Sample:
    caller: Caller
    chat: UUID  # the heavy user's 50,000-message chat
    middle: tuple[datetime, UUID]  # a chat halfway down the heavy user's list
    message: UUID
    rated: UUID  # a message of `chat_1` with a rating
    chat_1: UUID
    meeting: tuple[UUID, datetime]
    memory: UUID
    personality: UUID
    widget: UUID


@pytest.fixture(scope="module")
def scale_urls(worker_name: str):
    name = f"{worker_name}_conversations_scale"
    urls = clone(name)
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        conn.execute(SEED)
        conn.execute("VACUUM ANALYZE")
    yield urls
    with psycopg.connect(os.environ["TENANTRY_TEST_SERVER_URL"], autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
async def scale_db(scale_urls):
    database = Database(scale_urls.runtime, scale_urls.platform, min_size=1, max_size=2)
    async with database:
        yield database


@pytest.fixture(scope="module")
def sample(scale_urls) -> Sample:
    with psycopg.connect(scale_urls.admin) as conn:

        def one(query: str, *params: Any) -> tuple[Any, ...]:
            row = conn.execute(query, params).fetchone()
            assert row is not None, query
            return row

        tenant, app, user = one(
            """SELECT u.tenant_id, u.app_id, u.id FROM tenantry.app_users u
                 JOIN tenantry.tenants t ON t.id = u.tenant_id
                WHERE t.slug = 'conv-1' AND u.email = 'user1@example.com'"""
        )
        chats = "FROM ai.chat_sessions WHERE tenant_id = %s AND app_id = %s AND app_user_id = %s"
        (chat,) = one(f"SELECT id {chats} AND title = 'more 1'", tenant, app, user)
        (chat_1,) = one(f"SELECT id {chats} AND title = 'chat 1'", tenant, app, user)
        middle = one(
            f"""SELECT last_message_at, id {chats} AND status = 'active'
                 ORDER BY last_message_at DESC, id DESC OFFSET 10000 LIMIT 1""",
            tenant,
            app,
            user,
        )
        in_chat = "FROM ai.chat_messages WHERE tenant_id = %s AND app_id = %s AND session_id = %s"
        (message,) = one(f"SELECT id {in_chat} AND sequence = 25000", tenant, app, chat)
        (rated,) = one(f"SELECT id {in_chat} AND sequence = 10", tenant, app, chat_1)
        owned = "WHERE tenant_id = %s AND app_id = %s"
        meeting = one(
            f"SELECT id, starts_at FROM ai.meetings {owned} AND organizer_id = %s "
            "AND title = 'meeting 5'",
            tenant,
            app,
            user,
        )
        (memory,) = one(
            f"SELECT id FROM ai.memories {owned} AND app_user_id = %s ORDER BY id LIMIT 1 OFFSET 5",
            tenant,
            app,
            user,
        )
        (personality,) = one(f"SELECT id FROM ai.personalities {owned} LIMIT 1", tenant, app)
        (widget,) = one(f"SELECT id FROM ai.widgets {owned} LIMIT 1", tenant, app)
    return Sample(
        Caller(tenant, app, user),
        chat,
        (middle[0], middle[1]),
        message,
        rated,
        chat_1,
        (meeting[0], meeting[1]),
        memory,
        personality,
        widget,
    )


# Point reads: (call). Pages: (call); every page asks for PAGE rows.
POINTS: dict[str, Any] = {
    "sessions.get": lambda tx, s: sessions.get(tx, s.caller, s.chat),
    "messages.get": lambda tx, s: messages.get(tx, s.caller, s.chat, s.message),
    "feedback.get": lambda tx, s: feedback.get(tx, s.caller, s.chat_1, s.rated),
    "meetings.get": lambda tx, s: meetings.get(tx, s.caller, s.meeting[0]),
    "memories.get": lambda tx, s: memories.get(tx, s.caller, s.memory),
    "personalities.get": lambda tx, s: personalities.get(tx, s.caller, s.personality),
    "personalities.hold": lambda tx, s: personalities.hold(tx, s.caller, s.personality),
    "widgets.get": lambda tx, s: widgets.get(tx, s.caller, s.widget),
    "preferences.get": lambda tx, s: preferences.get(tx, s.caller),
}
PAGES: dict[str, Any] = {
    "sessions.page": lambda tx, s: sessions.page(tx, s.caller, "active", None, PAGE),
    "sessions.page after a cursor": lambda tx, s: sessions.page(
        tx, s.caller, "active", s.middle, PAGE
    ),
    "sessions.page archived": lambda tx, s: sessions.page(tx, s.caller, "archived", None, PAGE),
    "messages.page": lambda tx, s: messages.page(tx, s.caller, s.chat, 0, PAGE),
    "messages.page after 25,000": lambda tx, s: messages.page(tx, s.caller, s.chat, 25000, PAGE),
    "meetings.page": lambda tx, s: meetings.page(tx, s.caller, None, PAGE),
    "meetings.page after a cursor": lambda tx, s: meetings.page(
        tx, s.caller, (s.meeting[1], s.meeting[0]), PAGE
    ),
    "memories.page": lambda tx, s: memories.page(tx, s.caller, None, PAGE),
    "memories.page before a memory": lambda tx, s: memories.page(tx, s.caller, s.memory, PAGE),
    "personalities.page": lambda tx, s: personalities.page(tx, s.caller, None, PAGE),
    "personalities.page after a name": lambda tx, s: personalities.page(
        tx, s.caller, "persona 3", PAGE
    ),
    "widgets.page": lambda tx, s: widgets.page(tx, s.caller, None, PAGE),
}
# Statements that only write, or read the rows they write (… RETURNING).
WRITES = {"create", "update", "delete", "append", "append_piece", "complete", "put"}
AI_TABLES = {
    "chat_sessions",
    "chat_messages",
    "feedback",
    "meetings",
    "memories",
    "personalities",
    "preferences",
    "widgets",
}
MODULES = (sessions, messages, feedback, meetings, memories, personalities, preferences, widgets)


def test_every_repository_read_is_planned() -> None:
    planned = {name.split(" ")[0] for name in (*POINTS, *PAGES)}
    for module in MODULES:
        short = module.__name__.rsplit(".", 1)[1]
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            assert f"{short}.{name}" in planned or name in WRITES, f"{short}.{name} is not planned"


async def _plans(scale_db, sample: Sample, call: Any) -> list[tuple[str, dict[str, Any]]]:
    recorders: list[PlanRecorder] = []
    caller = sample.caller
    context = TenantContext(caller.tenant_id, caller.app_id, caller.user_id)
    with pytest.raises(_Rollback):
        async with recorded(scale_db, context, recorders) as tx:
            await call(tx, sample)
    plans = [plan for recorder in recorders for plan in recorder.plans]
    assert plans, "the read ran no SELECT"
    return plans


def _outline(node: dict[str, Any], depth: int = 0) -> str:
    """The plan's shape, one node a line: what a failure message needs."""
    parts = [node["Node Type"], node.get("Relation Name", ""), node.get("Index Name", "")]
    rows = f"rows={node.get('Actual Rows', 0):.0f}x{node.get('Actual Loops', 1)}"
    cond = node.get("Index Cond") or node.get("Recheck Cond") or node.get("Filter") or ""
    line = "  " * depth + " ".join(p for p in parts if p) + f" {rows} {cond[:160]}"
    return "\n".join([line, *(_outline(c, depth + 1) for c in node.get("Plans", []))])


@pytest.mark.parametrize("name", sorted(POINTS))
async def test_point_read_plan(scale_db, sample: Sample, name: str) -> None:
    plans = await _plans(scale_db, sample, POINTS[name])
    found = [f"{p}\n  in: {text[:300]}" for text, plan in plans for p in problems(plan, point=True)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("name", sorted(PAGES))
async def test_page_walks_an_index(scale_db, sample: Sample, name: str) -> None:
    """A page reads the rows it returns and no more: an index walk in the page's order (a
    sort, if any, only ever sees the page's rows)."""
    plans = await _plans(scale_db, sample, PAGES[name])
    for text, plan in plans:
        found = problems(plan, point=False)
        assert not found, "\n".join(found) + f"\n  in: {text[:300]}"
        for scan in (s for s in scans(plan) if s["Relation Name"] in AI_TABLES):
            removed = scan.get("Rows Removed by Filter", 0) + scan.get(
                "Rows Removed by Index Recheck", 0
            )
            read = (scan.get("Actual Rows", 0) + removed) * scan.get("Actual Loops", 1)
            assert read <= PAGE, f"{name} read {read:.0f} rows:\n{_outline(plan)}"
            assert scan["Node Type"] != "Seq Scan", f"{name}:\n{_outline(plan)}"
