"""The product's own reads, planned at scale, as the runtime role in a signed context.

A million `app_users` in 1,000 tenants (two apps each, 500 users per app) and a few hundred
thousand rows in the other tenant tables. Every repository read runs through a transaction that
first asks PostgreSQL for the plan it actually executes (EXPLAIN ANALYZE, same context, same
parameters). A read fails the test if any scan discards more than 100 rows in a filter or an
index recheck, reads more than 100 rows to answer a point lookup, or scans more than 100 rows
of a table sequentially: ten rows per tenant hide all of these, a thousand do not.

A repository read that is not listed here fails `test_every_repository_read_is_planned`.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from tenantry.access.repository import effective as access_effective
from tenantry.identity.principal import Credential, Principal
from tenantry.identity.repository import credentials, external, mail, sessions, users
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.security_events import repository as events
from tenantry.tenant_context.service import ContextService
from tests.support.database import clone

TENANTS = 1_000
USERS_PER_APP = 500
# The most rows a scan may look at (returned or discarded) to answer a point read.
POINT_BUDGET = 100

SEED = """
SET synchronous_commit = off;
INSERT INTO tenantry.tenants (id, slug, name, status)
SELECT gen_random_uuid(), 'scale-' || g, 'Scale ' || g, 'active' FROM generate_series(1, {tenants}) g;
INSERT INTO tenantry.tenant_apps (tenant_id, app_id)
SELECT t.id, a.id FROM tenantry.tenants t, tenantry.apps a
 WHERE t.slug LIKE 'scale-%' AND a.slug IN ('thinktank', 'launchboard');
INSERT INTO tenantry.app_users (tenant_id, app_id, id, email, display_name, password_hash)
SELECT ta.tenant_id, ta.app_id, gen_random_uuid(), 'user' || g || '@example.com', 'User ' || g, 'x'
  FROM tenantry.tenant_apps ta, generate_series(1, {users}) g;
-- Every fifth user has a session, a refresh token, preferences, a mail and a one-time token.
CREATE TEMP TABLE some_users AS
SELECT tenant_id, app_id, id FROM tenantry.app_users WHERE email ~ '^user[0-9]*[05]@';
INSERT INTO tenantry.sessions (tenant_id, app_id, id, app_user_id, auth_method, expires_at)
SELECT tenant_id, app_id, gen_random_uuid(), id, 'pwd', now() + interval '1 day' FROM some_users;
INSERT INTO tenantry.refresh_tokens (tenant_id, app_id, id, session_id, token_hash, expires_at)
SELECT tenant_id, app_id, gen_random_uuid(), id, sha256(uuid_send(id)), expires_at
  FROM tenantry.sessions;
INSERT INTO tenantry.app_user_preferences (tenant_id, app_id, id, app_user_id, key, value)
SELECT tenant_id, app_id, gen_random_uuid(), id, 'theme', '"dark"' FROM some_users;
INSERT INTO tenantry.one_time_tokens
       (tenant_id, app_id, id, app_user_id, purpose, token_hash, expires_at)
SELECT tenant_id, app_id, gen_random_uuid(), id, 'verify_email', sha256(uuid_send(id)),
       now() + interval '1 day' FROM some_users;
INSERT INTO tenantry.mail_outbox (tenant_id, app_id, id, to_address, subject, body)
SELECT tenant_id, app_id, gen_random_uuid(), 'someone@example.com', 'Reset your password', 'x'
  FROM some_users;
INSERT INTO tenantry.api_tokens
       (tenant_id, app_id, id, app_user_id, name, token_hash, display_prefix, scopes)
SELECT tenant_id, app_id, gen_random_uuid(), id, 'ci', sha256(uuid_send(id)), 'tenantry_pat_x',
       ARRAY['profile'] FROM some_users;
INSERT INTO tenantry.mfa_recovery_codes (tenant_id, app_id, id, app_user_id, code_hash)
SELECT tenant_id, app_id, gen_random_uuid(), id, sha256(uuid_send(id)) FROM some_users;
INSERT INTO tenantry.user_identity_links (tenant_id, app_id, id, app_user_id, issuer, subject)
SELECT tenant_id, app_id, gen_random_uuid(), id, 'https://idp.example', id::text FROM some_users;
INSERT INTO tenantry.external_issuers (tenant_id, app_id, id, issuer, audience, jwks_uri)
SELECT tenant_id, app_id, gen_random_uuid(), 'https://idp.example', 'aud', 'https://idp.example/k'
  FROM tenantry.tenant_apps;
-- Security events: each app's and tenant-wide ones, 200 per tenant.
INSERT INTO tenantry.security_events (tenant_id, id, app_id, kind, severity, detail, created_at)
SELECT ta.tenant_id, gen_random_uuid(), CASE WHEN g % 3 = 0 THEN NULL ELSE ta.app_id END,
       'probe', 'info', '{{}}', now() - g * interval '1 minute'
  FROM tenantry.tenant_apps ta, generate_series(1, 100) g;
-- Settings, and ten flags overridden tenant-wide and per app in every tenant.
INSERT INTO tenantry.tenant_settings (tenant_id, id, key, value, updated_by)
SELECT t.id, gen_random_uuid(), k, '"x"', 'seed'
  FROM tenantry.tenants t, unnest(ARRAY['locale', 'timezone', 'display_name']) k
 WHERE t.slug LIKE 'scale-%';
INSERT INTO tenantry.feature_flags (key, type, default_value)
SELECT 'scale.flag' || g, 'boolean', 'false' FROM generate_series(1, 10) g;
INSERT INTO tenantry.feature_flag_overrides (tenant_id, id, flag_key, app_id, value, version)
SELECT t.id, gen_random_uuid(), 'scale.flag' || g, a.app_id, 'true', 1
  FROM tenantry.tenants t, generate_series(1, 10) g,
       (SELECT NULL::uuid AS app_id UNION ALL SELECT id FROM tenantry.apps
         WHERE slug = 'thinktank') a
 WHERE t.slug LIKE 'scale-%';
-- Access control: two roles and ten departments per tenant, every fifth user in a department,
-- a role on every department and on every tenth user.
INSERT INTO tenantry.roles (tenant_id, id, key, name, template_key)
SELECT t.id, gen_random_uuid(), k, k, CASE k WHEN 'members' THEN 'member' END
  FROM tenantry.tenants t, unnest(ARRAY['members', 'readers']) k WHERE t.slug LIKE 'scale-%';
INSERT INTO tenantry.role_privileges (tenant_id, id, role_id, privilege_key)
SELECT tenant_id, gen_random_uuid(), id, 'audit.read' FROM tenantry.roles WHERE key = 'readers';
INSERT INTO tenantry.departments (tenant_id, id, name, path)
SELECT t.id, gen_random_uuid(), 'dept ' || g, '{{}}'
  FROM tenantry.tenants t, generate_series(1, 10) g WHERE t.slug LIKE 'scale-%';
INSERT INTO tenantry.department_members (tenant_id, id, department_id, user_app_id, app_user_id)
SELECT u.tenant_id, gen_random_uuid(),
       (SELECT d.id FROM tenantry.departments d WHERE d.tenant_id = u.tenant_id
         ORDER BY d.id LIMIT 1), u.app_id, u.id
  FROM some_users u;
INSERT INTO tenantry.role_assignments
       (tenant_id, id, role_id, subject_kind, subject_id, granted_by)
SELECT d.tenant_id, gen_random_uuid(), r.id, 'department', d.id, 'seed'
  FROM tenantry.departments d JOIN tenantry.roles r ON r.tenant_id = d.tenant_id
 WHERE r.key = 'readers';
INSERT INTO tenantry.role_assignments
       (tenant_id, id, role_id, subject_kind, subject_id, subject_app_id, granted_by)
SELECT u.tenant_id, gen_random_uuid(), r.id, 'user', u.id, u.app_id, 'seed'
  FROM tenantry.app_users u JOIN tenantry.roles r ON r.tenant_id = u.tenant_id
 WHERE r.key = 'members' AND u.email ~ '^user[0-9]*0@';
"""


@dataclass(frozen=True)
class Sample:
    tenant_id: UUID
    app_id: UUID
    user_id: UUID
    email: str
    session_id: UUID
    session_hash: bytes


@pytest.fixture(scope="module")
def scale_urls(worker_name: str):
    name = f"{worker_name}_scale"
    urls = clone(name)
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        conn.execute(SEED.format(tenants=TENANTS, users=USERS_PER_APP))
        conn.execute("VACUUM ANALYZE")
    yield urls
    with psycopg.connect(os.environ["TENANTRY_TEST_SERVER_URL"], autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
async def scale_db(scale_urls) -> AsyncIterator[Database]:
    database = scale_urls.database(min_size=1, max_size=2)
    async with database:
        yield database


@pytest.fixture(scope="module")
def sample(scale_urls) -> Sample:
    with psycopg.connect(scale_urls.admin) as conn:
        row = conn.execute(
            """SELECT s.tenant_id, s.app_id, s.app_user_id, u.email, s.id,
                      sha256(uuid_send(s.id))
                 FROM tenantry.sessions s JOIN tenantry.app_users u
                   ON u.tenant_id = s.tenant_id AND u.app_id = s.app_id AND u.id = s.app_user_id
                WHERE u.email = 'user250@example.com' LIMIT 1"""
        ).fetchone()
    assert row is not None
    return Sample(*row)


class PlanRecorder:
    """A transaction that has every SELECT explained (ANALYZE) before it runs for real."""

    def __init__(self, tx: Any) -> None:
        self._tx = tx
        self.plans: list[tuple[str, dict[str, Any]]] = []

    async def execute(self, query: Any, params: Any = None) -> Any:
        text = query if isinstance(query, str) else str(query)
        if text.lstrip().upper().startswith(("SELECT", "WITH")):
            cursor = await self._tx.execute(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + text, params
            )
            raw = (await cursor.fetchone())["QUERY PLAN"]
            plan = raw if isinstance(raw, list) else json.loads(raw)
            self.plans.append((text, plan[0]["Plan"]))
        return await self._tx.execute(query, params)

    async def fetch_one(self, query: Any, params: Any = None) -> Any:
        return await (await self.execute(query, params)).fetchone()

    async def fetch_all(self, query: Any, params: Any = None) -> Any:
        return await (await self.execute(query, params)).fetchall()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)


class PlanDatabase:
    """Stands in for `Database` where a repository reads through `db.read`."""

    def __init__(self, db: Database, recorder: list[PlanRecorder]) -> None:
        self._db = db
        self._recorders = recorder

    async def read(
        self,
        context: TenantContext,
        query: str,
        params: Any = (),
        *,
        require: Any = (),  # noqa: ARG002 - credential checks are not planned here
    ) -> list[Any]:
        async with recorded(self._db, context, self._recorders) as tx:
            return await tx.fetch_all(query, params)


@asynccontextmanager
async def recorded(
    db: Database, context: TenantContext, into: list[PlanRecorder]
) -> AsyncIterator[PlanRecorder]:
    async with db.tenant_transaction(context) as tx:
        recorder = PlanRecorder(tx)
        into.append(recorder)
        yield recorder
        raise _Rollback


class _Rollback(Exception):
    """Leaves the seeded data as it was: every planned read is rolled back."""


def scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node] if "Relation Name" in node else []
    for child in node.get("Plans", []):
        found += scans(child)
    return found


def problems(plan: dict[str, Any], *, point: bool) -> list[str]:
    found = []
    for scan in scans(plan):
        relation = scan["Relation Name"]
        loops = scan.get("Actual Loops", 1)
        removed = (
            scan.get("Rows Removed by Filter", 0) + scan.get("Rows Removed by Index Recheck", 0)
        ) * loops
        examined = scan.get("Actual Rows", 0) * loops + removed
        if scan["Node Type"] == "Seq Scan" and examined > POINT_BUDGET:
            found.append(f"sequential scan of {relation} ({examined:.0f} rows)")
        if removed > POINT_BUDGET:
            found.append(f"{relation}: {removed:.0f} rows discarded by a filter")
        if point and examined > POINT_BUDGET:
            found.append(f"{relation}: {examined:.0f} rows read for a point lookup")
    return found


# Each repository read: (point lookup?, how to call it with the sample).
Call = Callable[[Any, Sample], Awaitable[object]]
READS: dict[str, tuple[bool, Call]] = {
    "access.effective": (
        False,
        lambda tx, s: access_effective(tx, s.tenant_id, s.app_id, s.user_id),
    ),
    "identity.get_by_email": (
        True,
        lambda tx, s: users.get_by_email(tx, s.tenant_id, s.app_id, s.email),
    ),
    "identity.get": (True, lambda tx, s: users.get(tx, s.tenant_id, s.app_id, s.user_id)),
    # An alert's recipients: the admin app's active users (here, the sample app's).
    "identity.active_addresses": (
        False,
        lambda tx, s: users.active_addresses(tx, s.tenant_id, s.app_id, 20),
    ),
    "identity.take_refresh_token": (
        True,
        lambda tx, s: sessions.take_refresh_token(tx, s.tenant_id, s.app_id, s.session_hash),
    ),
    "identity.mails_sent_recently": (
        False,
        lambda tx, s: mail.mails_sent_recently(
            tx, s.tenant_id, s.app_id, s.email, "Reset your password", 3600
        ),
    ),
    "identity.list_api_tokens": (
        True,
        lambda tx, s: credentials.list_api_tokens(tx, s.tenant_id, s.app_id, s.user_id),
    ),
    "identity.find_api_token": (
        True,
        lambda tx, s: credentials.find_api_token(tx, s.tenant_id, s.app_id, s.session_hash),
    ),
    "identity.get_external_issuer": (
        True,
        lambda tx, s: external.get_external_issuer(
            tx, s.tenant_id, s.app_id, "https://idp.example"
        ),
    ),
    "identity.linked_user": (
        True,
        lambda tx, s: external.linked_user(
            tx, s.tenant_id, s.app_id, "https://idp.example", str(s.user_id)
        ),
    ),
    "security_events.search": (
        False,
        lambda tx, s: events.search(
            tx,
            s.tenant_id,
            kind="probe",
            app_id=None,
            since=None,
            until=None,
            before_id=None,
            limit=50,
        ),
    ),
}
# Reads through `db.read` (one message): called with a stand-in database.
DB_READS: dict[str, tuple[bool, Call]] = {
    "identity.read_user": (
        True,
        lambda db, s: users.read_user(db, TenantContext(s.tenant_id, s.app_id, s.user_id), ()),
    ),
    "identity.read_sessions": (
        True,
        lambda db, s: sessions.read_sessions(
            db, TenantContext(s.tenant_id, s.app_id, s.user_id), ()
        ),
    ),
}
# Statements that only write, or read the row they write (INSERT/UPDATE … RETURNING).
NOT_READS = {
    "create",
    "set_password",
    "mark_login",
    "mark_email_verified",
    "set_status",
    "set_mfa",
    "use_totp_step",
    "set_preference",
    "create_session",
    "revoke_session",
    "revoke_user_sessions",
    "add_refresh_token",
    "use_refresh_token",
    "add_one_time_token",
    "use_one_time_token",
    "replace_recovery_codes",
    "use_recovery_code",
    "queue_mail",
    "create_api_token",
    "revoke_api_token",
    "revoke_user_api_tokens",
    "add_external_issuer",
    "link_identity",
    "insert",
    "active_session_check",
    # The mail delivery worker's and the operator's outbox view, on the platform path.
    "take_unsent",
    "mark_sent",
    "newest",
}


def test_every_repository_read_is_planned() -> None:
    listed = {name.split(".", 1)[1] for name in (*READS, *DB_READS)}
    for module in (users, sessions, credentials, mail, external, events):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            assert name in listed | NOT_READS, f"{module.__name__}.{name} is not planned here"


@pytest.mark.parametrize("name", sorted(READS))
async def test_repository_read_plan(scale_db, sample: Sample, name: str) -> None:
    point, call = READS[name]
    recorders: list[PlanRecorder] = []
    context = TenantContext(sample.tenant_id, sample.app_id, sample.user_id)
    if name == "security_events.search":  # tenant administrators read every app's events
        context = TenantContext(sample.tenant_id, cross_app=True)
    with pytest.raises(_Rollback):
        async with recorded(scale_db, context, recorders) as tx:
            await call(tx, sample)
    assert_plans(recorders, point=point)


@pytest.mark.parametrize("name", sorted(DB_READS))
async def test_one_message_read_plan(scale_db, sample: Sample, name: str) -> None:
    point, call = DB_READS[name]
    recorders: list[PlanRecorder] = []
    with pytest.raises(_Rollback):
        await call(PlanDatabase(scale_db, recorders), sample)
    assert_plans(recorders, point=point)


async def test_tenant_context_plan(scale_db, sample: Sample) -> None:
    """The whole tenant context (user, tenant, settings, apps, flags) in one statement."""
    recorders: list[PlanRecorder] = []
    service = ContextService(PlanDatabase(scale_db, recorders), deprecations=None)  # type: ignore[arg-type]
    principal = Principal(
        tenant_id=sample.tenant_id,
        app_id=sample.app_id,
        app_slug="thinktank",
        app_user_id=sample.user_id,
        credential=Credential.ACCESS_TOKEN,
        scopes=frozenset(),
    )
    with pytest.raises(_Rollback):
        await service.load(principal, [])
    assert_plans(recorders, point=False)


def assert_plans(recorders: list[PlanRecorder], *, point: bool) -> None:
    plans = [plan for recorder in recorders for plan in recorder.plans]
    assert plans, "the read ran no SELECT"
    found = [
        f"{p}\n  in: {text[:200]}" for text, plan in plans for p in problems(plan, point=point)
    ]
    assert not found, "\n".join(found)
