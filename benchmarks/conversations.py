"""Chats at scale: appends, streamed pieces and keyset pages, as the runtime role in each user's
signed context, through the conversations' own use cases (one transaction per call, as a request
makes).

    python benchmarks/conversations.py [--quick] [--json]

The database holds 1,000 tenants x 20 thinktank users x 50 chats (1M chats) and 1M messages
(--quick: 100 tenants, 100,000 of each), plus the measured user's 10,000 chats and a chat of
50,000 messages.

a  append        one writer appending whole messages to a chat: messages/s, p50/p99
b  one chat x 8  eight writers appending to the same chat at once: messages/s; the sequence
                 numbers must come out 1..n without a gap or a repeat
c  stream        one streamed answer, piece by piece, every piece sent twice (a retrying
                 producer): pieces/s, p50/p99 per piece; the text must come out exactly once
d  chat page     50 chats of the 10,000-chat user: the first page and pages deep in the list
e  message page  50 messages of the 50,000-message chat, from the start and from the middle
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, machine, role_url, with_fresh_database
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.workloads.conversations.caller import Caller
from tenantry.workloads.conversations.schemas.chats import AppendMessage, AppendPiece, CreateChat
from tenantry.workloads.conversations.service import chats

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from uuid import UUID

    from tenantry.kit.db import Transaction
    from tenantry.workloads.conversations.schemas.chats import ChatOut
    from tenantry.workloads.conversations.schemas.common import Page

    # Runs one piece of work in its own transaction in the measured user's context.
    InTx = Callable[[Callable[[Transaction], Awaitable[Any]]], Awaitable[Any]]

WRITERS = 8
SEED = """
SET synchronous_commit = off;
INSERT INTO tenantry.tenants (id, slug, name, status)
SELECT gen_random_uuid(), 'chat-' || g, 'Chat ' || g, 'active' FROM generate_series(1, {tenants}) g;
INSERT INTO tenantry.tenant_apps (tenant_id, app_id)
SELECT t.id, a.id FROM tenantry.tenants t, tenantry.apps a
 WHERE t.slug LIKE 'chat-%' AND a.slug = 'thinktank';
INSERT INTO tenantry.app_users (tenant_id, app_id, id, email, display_name, password_hash)
SELECT ta.tenant_id, ta.app_id, gen_random_uuid(), 'user' || g || '@example.com', 'U' || g, 'x'
  FROM tenantry.tenant_apps ta JOIN tenantry.tenants t ON t.id = ta.tenant_id
       CROSS JOIN generate_series(1, 20) g
 WHERE t.slug LIKE 'chat-%';
SET session_replication_role = replica;
INSERT INTO ai.chat_sessions (tenant_id, app_id, id, app_user_id, title, status, created_at,
                              updated_at, last_message_at, message_count)
SELECT u.tenant_id, u.app_id, uuidv7(), u.id, 'chat ' || g,
       CASE WHEN g % 5 = 0 THEN 'archived' ELSE 'active' END, now() - g * interval '1 hour',
       now() - g * interval '1 hour', now() - g * interval '1 hour',
       CASE WHEN g <= 2 THEN 25 ELSE 0 END
  FROM tenantry.app_users u JOIN tenantry.tenants t ON t.id = u.tenant_id
       CROSS JOIN generate_series(1, {chats}) g
 WHERE t.slug LIKE 'chat-%';
INSERT INTO ai.chat_messages (tenant_id, app_id, id, session_id, sequence, role, content, status,
                              created_at, completed_at)
SELECT c.tenant_id, c.app_id, uuidv7(), c.id, n, 'user', 'message ' || n, 'complete', now(), now()
  FROM ai.chat_sessions c CROSS JOIN generate_series(1, 25) n
 WHERE c.title IN ('chat 1', 'chat 2');
-- The measured user: 10,000 chats, one of them 50,000 messages long.
INSERT INTO ai.chat_sessions (tenant_id, app_id, id, app_user_id, title, created_at, updated_at,
                              last_message_at, message_count)
SELECT u.tenant_id, u.app_id, uuidv7(), u.id, 'mine ' || g, now() - g * interval '1 minute',
       now() - g * interval '1 minute', now() - g * interval '1 minute',
       CASE WHEN g = 1 THEN 50000 ELSE 0 END
  FROM tenantry.app_users u JOIN tenantry.tenants t ON t.id = u.tenant_id
       CROSS JOIN generate_series(1, 10000) g
 WHERE t.slug = 'chat-1' AND u.email = 'user1@example.com';
INSERT INTO ai.chat_messages (tenant_id, app_id, id, session_id, sequence, role, content, status,
                              created_at, completed_at)
SELECT c.tenant_id, c.app_id, uuidv7(), c.id, n, 'assistant', 'long ' || n, 'complete', now(), now()
  FROM ai.chat_sessions c CROSS JOIN generate_series(1, 50000) n WHERE c.title = 'mine 1';
SET session_replication_role = origin;
"""


def _figures(latencies: list[float], count: int, elapsed: float, unit: str) -> dict[str, float]:
    latencies.sort()
    return {
        f"{unit}_per_s": round(count / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "p99_ms": round(latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000, 2),
    }


async def _timed(n: int, step: Callable[[int], Awaitable[object]]) -> tuple[list[float], float]:
    latencies = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await step(i)
        latencies.append(time.perf_counter() - t0)
    return latencies, time.perf_counter() - started


def _seed(admin: str, *, quick: bool) -> tuple[dict[str, Any], tuple[Any, ...]]:
    tenants = 100 if quick else 1000
    started = time.perf_counter()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(SEED.format(tenants=tenants, chats=50))
        conn.execute("VACUUM ANALYZE")
        row = conn.execute(
            """SELECT u.tenant_id, u.app_id, u.id,
                      (SELECT count(*) FROM ai.chat_sessions) AS chats,
                      (SELECT count(*) FROM ai.chat_messages) AS messages,
                      (SELECT c.id FROM ai.chat_sessions c
                        WHERE c.tenant_id = u.tenant_id AND c.title = 'mine 1') AS long_chat
                 FROM tenantry.app_users u JOIN tenantry.tenants t ON t.id = u.tenant_id
                WHERE t.slug = 'chat-1' AND u.email = 'user1@example.com'"""
        ).fetchone()
    assert row is not None
    tenant, app, user, chat_rows, message_rows, long_chat = row
    sizes = {
        "chats": chat_rows,
        "messages": message_rows,
        "seed_s": round(time.perf_counter() - started, 1),
    }
    return sizes, (tenant, app, user, long_chat)


async def run(admin: str, *, quick: bool) -> dict[str, Any]:
    result, (tenant, app, user, long_chat) = _seed(admin, quick=quick)
    caller = Caller(tenant, app, user)
    context = TenantContext(tenant, app, user)
    async with Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=2, max_size=12
    ) as db:

        async def in_tx(work: Callable[[Any], Awaitable[Any]]) -> Any:  # noqa: ANN401 - what the work returns
            async with db.tenant_transaction(context) as tx:
                return await work(tx)

        chat = await in_tx(lambda tx: chats.create_chat(tx, caller, CreateChat(title="bench")))
        n = 300 if quick else 1500
        body = AppendMessage(role="user", content="How many tokens is this sentence?")
        latencies, elapsed = await _timed(
            n, lambda _: in_tx(lambda tx: chats.append_message(tx, caller, chat.id, body))
        )
        result["a_append"] = _figures(latencies, n, elapsed, "messages")

        crowded = await in_tx(lambda tx: chats.create_chat(tx, caller, CreateChat(title="crowd")))
        per_writer = n // WRITERS
        waits: list[float] = []

        async def writer() -> None:
            for _ in range(per_writer):
                t0 = time.perf_counter()
                await in_tx(lambda tx: chats.append_message(tx, caller, crowded.id, body))
                waits.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(WRITERS)))
        result["b_one_chat_8_writers"] = _figures(
            waits, per_writer * WRITERS, time.perf_counter() - t0, "messages"
        )
        stored = await in_tx(lambda tx: chats.list_messages(tx, caller, crowded.id, 0, 200))
        sequences, after = [m.sequence for m in stored.items], stored.next_after
        while after is not None:
            page = await in_tx(
                lambda tx, a=after: chats.list_messages(tx, caller, crowded.id, a, 200)
            )
            sequences += [m.sequence for m in page.items]
            after = page.next_after
        result["b_one_chat_8_writers"]["dense_sequences"] = sequences == list(
            range(1, per_writer * WRITERS + 1)
        )

        result["c_stream_each_piece_twice"] = await _stream(in_tx, caller, chat.id, n, quick=quick)

        result["d_chat_page"] = await _pages(
            in_tx, lambda tx, cursor: chats.list_chats(tx, caller, "active", cursor, 50)
        )
        for name, after in (("e_message_page_start", 0), ("e_message_page_middle", 25_000)):
            latencies, elapsed = await _timed(
                200,
                lambda _, a=after: in_tx(
                    lambda tx: chats.list_messages(tx, caller, long_chat, a, 50)
                ),
            )
            result[name] = _figures(latencies, 200, elapsed, "pages")
    return result


async def _stream(
    in_tx: InTx, caller: Caller, chat_id: UUID, before: int, *, quick: bool
) -> dict[str, Any]:
    """One streamed answer, every piece sent twice."""
    streaming = AppendMessage(role="assistant", status="streaming")
    answer, _ = await in_tx(lambda tx: chats.append_message(tx, caller, chat_id, streaming))
    pieces = 200 if quick else 1000

    async def piece(i: int) -> None:
        sent = AppendPiece(index=i // 2, content=f"word{i // 2} ")
        await in_tx(lambda tx: chats.append_piece(tx, caller, chat_id, answer.id, sent))

    latencies, elapsed = await _timed(pieces * 2, piece)
    figures: dict[str, Any] = _figures(latencies, pieces, elapsed, "pieces")
    done = await in_tx(lambda tx: chats.list_messages(tx, caller, chat_id, before, 10))
    figures["exact_text"] = done.items[0].content == "".join(f"word{i} " for i in range(pieces))
    return figures


async def _pages(
    in_tx: InTx, page: Callable[[Transaction, str | None], Awaitable[Page[ChatOut]]]
) -> dict[str, Any]:
    """p50/p95 of the first page, and of the 100th page reached by following the cursors."""
    first, _ = await _timed(200, lambda _: in_tx(lambda tx: page(tx, None)))
    cursor, deep = None, []
    for _ in range(100):
        t0 = time.perf_counter()
        got = await in_tx(lambda tx, c=cursor: page(tx, c))
        deep.append(time.perf_counter() - t0)
        cursor = got.next_cursor
    return {
        "first_page": _figures(first, 200, sum(first), "pages"),
        "walk_100_pages": _figures(deep, 100, sum(deep), "pages"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = with_fresh_database(lambda admin: asyncio.run(run(admin, quick=args.quick)))
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result, default=str))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
