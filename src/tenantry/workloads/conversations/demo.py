"""Demo conversations for the demo tenants' thinktank users: personalities, a widget, a few chats
with messages (one of them streamed), a rating, preferences, memories and a meeting.

Written through the same use cases as the API, each user in their own signed context. Running
it again adds nothing: what a user already has (by chat, meeting or memory text, personality or
widget name) is left as it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tenantry.library import TenantContext
from tenantry.library.tenants import find_tenant
from tenantry.workloads.conversations.caller import Caller
from tenantry.workloads.conversations.errors import NameTaken
from tenantry.workloads.conversations.repository import demo
from tenantry.workloads.conversations.schemas.catalog import CreatePersonality, CreateWidget
from tenantry.workloads.conversations.schemas.chats import (
    AppendMessage,
    AppendPiece,
    CompleteMessage,
    CreateChat,
    PutFeedback,
    Role,
)
from tenantry.workloads.conversations.schemas.meetings import CreateMeeting
from tenantry.workloads.conversations.schemas.personal import CreateMemory, PutPreferences
from tenantry.workloads.conversations.service import catalog, chats, meetings, personal

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.library import Database, Transaction

APP = "thinktank"
USERS = {
    "acme": ("alice@example.com", "bob@acme.test"),
    "globex": ("alice@example.com", "hank@globex.test"),
}
PERSONALITIES = (
    (
        "Research assistant",
        "Finds sources and sums them up.",
        "large-chat",
        0.3,
        "You are a careful research assistant. Cite what you rely on.",
    ),
    (
        "Writing coach",
        "Helps you say it shorter.",
        "small-chat",
        0.7,
        "You help people write clearly. Suggest, never rewrite everything.",
    ),
    (
        "Support agent",
        "Answers the questions customers ask.",
        "small-chat",
        0.2,
        "You answer product questions politely and briefly.",
    ),
)
# (title, personality, [(role, text)]): the last assistant answer of each chat is streamed.
CHATS: tuple[tuple[str, str, tuple[tuple[Role, str], ...]], ...] = (
    (
        "Quarterly report outline",
        "Writing coach",
        (
            ("user", "Can you help me outline the Q3 report?"),
            ("assistant", "Sure: results, what drove them, risks, and the plan for Q4."),
            ("user", "Keep it to one page."),
            ("assistant", "Then one paragraph each, with a single chart for the results."),
        ),
    ),
    (
        "Competitor pricing",
        "Research assistant",
        (
            ("user", "What do the three largest competitors charge per seat?"),
            ("assistant", "Their public price pages list 12, 15 and 20 dollars a seat a month."),
        ),
    ),
    (
        "Reset my password",
        "Support agent",
        (
            ("user", "How do I reset my password?"),
            ("assistant", "Use 'Forgot password' on the sign-in page; the link lasts an hour."),
        ),
    ),
)
MEMORIES = (
    ("Prefers answers as bullet points", "preference", 4),
    ("Works on the finance team", "fact", 3),
)


async def seed_demo(db: Database) -> dict[str, int]:
    """Seed the demo tenants' conversations (idempotent); counts of what it added."""
    added = dict.fromkeys(
        ("personalities", "widgets", "chats", "messages", "memories", "meetings"), 0
    )
    for slug, emails in USERS.items():
        tenant = await find_tenant(db, slug)
        if tenant is None or APP not in tenant.apps:
            continue
        app_id = tenant.apps[APP]
        async with db.tenant_transaction(TenantContext(tenant.id, app_id)) as tx:
            users = await demo.app_users(tx, tenant.id, app_id, emails)
        if not users:
            continue
        for email, user_id in sorted(users.items()):
            caller = Caller(tenant.id, app_id, user_id)
            async with db.tenant_transaction(TenantContext(tenant.id, app_id, user_id)) as tx:
                personas = await _personalities(tx, caller, added)
                if email == emails[0]:
                    await _widget(tx, caller, personas["Support agent"], slug, added)
                await _chats(tx, caller, personas, added)
                await _personal(tx, caller, personas["Writing coach"], added)
    return added


async def _personalities(tx: Transaction, caller: Caller, added: dict[str, int]) -> dict[str, UUID]:
    for name, description, model, temperature, prompt in PERSONALITIES:
        body = CreatePersonality(
            name=name,
            description=description,
            model=model,
            temperature=temperature,
            system_prompt=prompt,
        )
        try:
            await catalog.create_personality(tx, caller, body)
            added["personalities"] += 1
        except NameTaken:
            continue  # seeded before
    page = await catalog.list_personalities(tx, caller, None, 200)
    return {p.name: p.id for p in page.items}


async def _widget(
    tx: Transaction, caller: Caller, persona: UUID, slug: str, added: dict[str, int]
) -> None:
    body = CreateWidget(
        name="Help bubble",
        personality_id=persona,
        allowed_origins=[f"https://{slug}.example", f"https://www.{slug}.example"],
        config={"position": "bottom-right", "greeting": "How can we help?"},
    )
    try:
        await catalog.create_widget(tx, caller, body)
        added["widgets"] += 1
    except NameTaken:
        return


async def _chats(
    tx: Transaction, caller: Caller, personas: dict[str, UUID], added: dict[str, int]
) -> None:
    have = {c.title for c in (await chats.list_chats(tx, caller, "active", None, 200)).items}
    for title, persona, lines in CHATS:
        if title in have:
            continue
        chat = await chats.create_chat(
            tx, caller, CreateChat(title=title, personality_id=personas[persona])
        )
        added["chats"] += 1
        *said, (_, last) = lines
        for role, text in said:
            await chats.append_message(tx, caller, chat.id, AppendMessage(role=role, content=text))
        # The last answer arrives as a stream of words, as a model would send it.
        answer, _ = await chats.append_message(
            tx, caller, chat.id, AppendMessage(role="assistant", status="streaming")
        )
        words = last.split(" ")
        for index, word in enumerate(words):
            piece = word if index == len(words) - 1 else f"{word} "
            await chats.append_piece(
                tx, caller, chat.id, answer.id, AppendPiece(index=index, content=piece)
            )
        await chats.complete_message(
            tx,
            caller,
            chat.id,
            answer.id,
            CompleteMessage(
                pieces=len(words), prompt_tokens=40 * len(lines), completion_tokens=len(words) * 2
            ),
        )
        await chats.put_feedback(tx, caller, chat.id, answer.id, PutFeedback(rating=5))
        added["messages"] += len(lines)


async def _personal(tx: Transaction, caller: Caller, persona: UUID, added: dict[str, int]) -> None:
    await personal.put_preferences(
        tx, caller, PutPreferences(preferred_personality_id=persona, language="en", tone="friendly")
    )
    have = {m.content for m in (await personal.list_memories(tx, caller, None, 200)).items}
    for content, kind, importance in MEMORIES:
        if content not in have:
            await personal.create_memory(
                tx, caller, CreateMemory(content=content, kind=kind, importance=importance)
            )
            added["memories"] += 1
    titles = {m.title for m in (await meetings.list_meetings(tx, caller, None, 200)).items}
    if "Weekly planning" not in titles:
        starts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        await meetings.create_meeting(
            tx,
            caller,
            CreateMeeting(
                title="Weekly planning",
                starts_at=starts,
                ends_at=starts + timedelta(minutes=30),
                status="scheduled",
                summary="Priorities for the week and who does what.",
            ),
        )
        added["meetings"] += 1
