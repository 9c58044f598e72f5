"""Conversations: AI personalities, chat sessions and messages, feedback, meetings, widgets,
per-user AI preferences and memories (all app-scoped, in schema `ai`), and the privilege
`conversations.manage` (personalities and widgets) held by the `owner` and `admin` templates.

Keys are (tenant_id, app_id, id) so that every reference between these tables names the app
too: a row can only point at a row of its own tenant *and* app, whatever the code does. The
indexes are the access paths (docs/conversations.md):

- chat_sessions (tenant, app, owner, status, last_message_at DESC, id DESC): a user's chat list,
  newest first, walked by keyset pages;
- chat_messages (tenant, app, session, sequence), unique: a session's messages in order, and
  the guard that two appends never share a sequence number;
- meetings (tenant, app, organizer, starts_at DESC, id DESC); memories (tenant, app, owner, id);
- personalities and widgets unique by lower-cased name (a stored column: an index on
  `lower(name)` is unusable under row-level security, `lower` is not leakproof).

Revision ID: w0002
Revises: w0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from tenantry.library import Reference, ScopedTable, TableScope
from tenantry.library.alembic import create_scoped_table, drop_scoped_table
from tenantry.library.privileges import Privilege, register_privileges, unregister_privileges

revision = "w0002"
down_revision = "w0001"
branch_labels = None
depends_on = None

# Every table is keyed (tenant_id, app_id, id).
KEY = ("app_id", "id")
SCHEMA = "ai"


def _user(column: str) -> Reference:
    return Reference(("app_id", column), "tenantry.app_users", ("app_id", "id"), "CASCADE")


def _personality(column: str) -> Reference:
    # Deleting a personality leaves the chats, widgets and preferences that named it.
    return Reference(("app_id", column), "personalities", KEY, f"SET NULL ({column})")


def _timestamps() -> tuple[str, ...]:
    return (
        "created_at timestamptz NOT NULL DEFAULT now()",
        "updated_at timestamptz NOT NULL DEFAULT now()",
    )


def _object(column: str) -> str:
    return (
        f"{column} jsonb NOT NULL DEFAULT '{{}}' CHECK (jsonb_typeof({column}) = 'object' "
        f"AND octet_length({column}::text) <= 16384)"
    )


PERSONALITIES = ScopedTable(
    name="personalities",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=KEY,
    columns=(
        "name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100)",
        "name_key text NOT NULL GENERATED ALWAYS AS (lower(name)) STORED",
        "description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000)",
        "system_prompt text NOT NULL DEFAULT '' CHECK (length(system_prompt) <= 20000)",
        "model text NOT NULL CHECK (length(model) BETWEEN 1 AND 200)",
        "temperature double precision NOT NULL DEFAULT 0.7 CHECK (temperature BETWEEN 0 AND 2)",
        *_timestamps(),
    ),
    unique=("name_key",),
)

CHAT_SESSIONS = ScopedTable(
    name="chat_sessions",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=KEY,
    columns=(
        "app_user_id uuid NOT NULL",
        "personality_id uuid",
        "title text NOT NULL DEFAULT '' CHECK (length(title) <= 200)",
        "status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived'))",
        *_timestamps(),
        # Starts at the creation time, so a new chat heads its owner's list.
        "last_message_at timestamptz NOT NULL DEFAULT now()",
        # Also the last sequence number given: an append increments it under the row's lock.
        "message_count integer NOT NULL DEFAULT 0 CHECK (message_count >= 0)",
    ),
    indexes=("app_user_id, status, last_message_at DESC, id DESC",),
    references=(_user("app_user_id"), _personality("personality_id")),
)

CHAT_MESSAGES = ScopedTable(
    name="chat_messages",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=KEY,
    columns=(
        "session_id uuid NOT NULL",
        "sequence integer NOT NULL CHECK (sequence >= 1)",
        "role text NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool'))",
        "content text NOT NULL DEFAULT '' CHECK (length(content) <= 200000)",
        # Streamed pieces applied so far: the next piece must carry this index.
        "pieces integer NOT NULL DEFAULT 0 CHECK (pieces >= 0)",
        "status text NOT NULL CHECK (status IN ('streaming', 'complete'))",
        "prompt_tokens integer CHECK (prompt_tokens >= 0)",
        "completion_tokens integer CHECK (completion_tokens >= 0)",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "completed_at timestamptz",
    ),
    checks=("(status = 'complete') = (completed_at IS NOT NULL)",),
    unique=("session_id, sequence",),
    references=(Reference(("app_id", "session_id"), "chat_sessions", KEY, "CASCADE"),),
)

FEEDBACK = ScopedTable(
    name="feedback",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=KEY,
    columns=(
        "message_id uuid NOT NULL",
        "app_user_id uuid NOT NULL",
        "rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5)",
        "comment text NOT NULL DEFAULT '' CHECK (length(comment) <= 2000)",
        *_timestamps(),
    ),
    unique=("message_id, app_user_id",),
    references=(
        Reference(("app_id", "message_id"), "chat_messages", KEY, "CASCADE"),
        _user("app_user_id"),
    ),
)

MEETINGS = ScopedTable(
    name="meetings",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=KEY,
    columns=(
        "organizer_id uuid NOT NULL",
        "title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200)",
        "starts_at timestamptz NOT NULL",
        "ends_at timestamptz NOT NULL",
        (
            "status text NOT NULL DEFAULT 'scheduled' "
            "CHECK (status IN ('scheduled', 'in_progress', 'completed', 'cancelled'))"
        ),
        "transcript text NOT NULL DEFAULT '' CHECK (length(transcript) <= 500000)",
        "summary text NOT NULL DEFAULT '' CHECK (length(summary) <= 20000)",
        *_timestamps(),
    ),
    checks=("ends_at > starts_at",),
    indexes=("organizer_id, starts_at DESC, id DESC",),
    references=(_user("organizer_id"),),
)

WIDGETS = ScopedTable(
    name="widgets",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=KEY,
    columns=(
        "name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100)",
        "name_key text NOT NULL GENERATED ALWAYS AS (lower(name)) STORED",
        "personality_id uuid",
        "allowed_origins text[] NOT NULL DEFAULT '{}' CHECK (cardinality(allowed_origins) <= 50)",
        _object("config"),
        "enabled boolean NOT NULL DEFAULT true",
        *_timestamps(),
    ),
    unique=("name_key",),
    references=(_personality("personality_id"),),
)

PREFERENCES = ScopedTable(
    name="preferences",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=KEY,
    columns=(
        "app_user_id uuid NOT NULL",
        "preferred_personality_id uuid",
        "language text CHECK (language ~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$')",
        "tone text CHECK (tone ~ '^[a-z][a-z_-]{0,39}$')",
        _object("extras"),
        *_timestamps(),
    ),
    unique=("app_user_id",),
    references=(_user("app_user_id"), _personality("preferred_personality_id")),
)

MEMORIES = ScopedTable(
    name="memories",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=KEY,
    columns=(
        "app_user_id uuid NOT NULL",
        "content text NOT NULL CHECK (length(content) BETWEEN 1 AND 4000)",
        "kind text NOT NULL DEFAULT 'fact' CHECK (kind ~ '^[a-z][a-z0-9_]{0,39}$')",
        "importance smallint NOT NULL DEFAULT 3 CHECK (importance BETWEEN 1 AND 5)",
        *_timestamps(),
        "expires_at timestamptz",
    ),
    indexes=("app_user_id, id",),
    references=(_user("app_user_id"),),
)

# Parents before children.
TABLES = (
    PERSONALITIES,
    CHAT_SESSIONS,
    CHAT_MESSAGES,
    FEEDBACK,
    MEETINGS,
    WIDGETS,
    PREFERENCES,
    MEMORIES,
)
MANAGE = Privilege(
    "conversations.manage",
    "Create, edit and delete an app's AI personalities and embeddable chat widgets",
    templates=("admin",),
)


def upgrade() -> None:
    for table in TABLES:
        create_scoped_table(table)
    register_privileges(MANAGE)


def downgrade() -> None:
    unregister_privileges(MANAGE)
    for table in reversed(TABLES):
        drop_scoped_table(table)
