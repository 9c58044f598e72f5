"""Random operations by random tenants and apps, checked against a model.

Every read in a (tenant, app) context must return exactly the model's rows for that pair; every
write aimed at another pair must change nothing (or be refused), as the runtime role.
"""

from __future__ import annotations

import json
from uuid import UUID

import psycopg
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from psycopg import errors
from psycopg.rows import dict_row

from tenantry.kit.context import ContextSigner, TenantContext
from tenantry.kit.ids import uuid7
from tests.isolation.world import apply

Pair = tuple[UUID, UUID]
PAIRS = st.integers(min_value=0, max_value=3)
KEYS = st.sampled_from(["theme", "locale", "layout"])


class IsolationMachine(RuleBasedStateMachine):
    def __init__(self, urls, signer: ContextSigner) -> None:
        super().__init__()
        self.signer = signer
        self.conn = psycopg.connect(urls.runtime, row_factory=dict_row)
        self.platform = psycopg.connect(urls.platform, row_factory=dict_row)
        self.pairs: list[Pair] = []
        # model: pair -> {preference id: (user id, key, value)}; users: pair -> [user ids]
        self.prefs: dict[Pair, dict[UUID, tuple[UUID, str, int]]] = {}
        self.users: dict[Pair, list[UUID]] = {}

    @initialize()
    def two_tenants(self) -> None:
        p = self.platform
        apply(p, self.signer.sign_platform())
        apps = [
            r["id"]
            for r in p.execute(
                "SELECT id FROM apps WHERE slug IN ('thinktank', 'alwaysme') ORDER BY slug"
            )
        ]
        for _ in range(2):
            tenant = uuid7()
            p.execute(
                "INSERT INTO tenants (id, slug, name, status) VALUES (%s, %s, 'T', 'active')",
                [tenant, f"m-{tenant.hex[-12:]}"],
            )
            for app in apps:
                p.execute(
                    "INSERT INTO tenant_apps (tenant_id, app_id) VALUES (%s, %s)", [tenant, app]
                )
                self.pairs.append((tenant, app))
                self.prefs[(tenant, app)] = {}
                self.users[(tenant, app)] = []
        p.commit()

    def _in(self, pair: Pair) -> psycopg.Connection:
        self.conn.rollback()
        token = self.signer.sign_tenant(TenantContext(tenant_id=pair[0], app_id=pair[1]))
        apply(self.conn, token)
        return self.conn

    @rule(actor=PAIRS)
    def add_user(self, actor: int) -> None:
        pair = self.pairs[actor]
        user = uuid7()
        # Every pair's first user shares one email: separate identities per tenant and app.
        email = f"{user.hex}@example.com" if self.users[pair] else "same@example.com"
        self._in(pair).execute(
            "INSERT INTO app_users (tenant_id, app_id, id, email) VALUES (%s, %s, %s, %s)",
            [*pair, user, email],
        )
        self.conn.commit()
        self.users[pair].append(user)

    @rule(actor=PAIRS, key=KEYS, value=st.integers(0, 1000), data=st.data())
    def set_preference(self, actor: int, key: str, value: int, data: st.DataObject) -> None:
        pair = self.pairs[actor]
        if not self.users[pair]:
            return
        user = data.draw(st.sampled_from(self.users[pair]))
        pref = uuid7()
        self._in(pair).execute(
            """INSERT INTO app_user_preferences (tenant_id, app_id, id, app_user_id, key, value)
               VALUES (%s, %s, %s, %s, %s, %s)
               ON CONFLICT (tenant_id, app_id, app_user_id, key) DO NOTHING""",
            [*pair, pref, user, key, json.dumps(value)],
        )
        self.conn.commit()
        if not any(u == user and k == key for u, k, _ in self.prefs[pair].values()):
            self.prefs[pair][pref] = (user, key, value)

    def _any_pref(self, data: st.DataObject) -> tuple[Pair, UUID] | None:
        owned = [(pair, pid) for pair, prefs in self.prefs.items() for pid in prefs]
        return data.draw(st.sampled_from(owned)) if owned else None

    @rule(actor=PAIRS, value=st.integers(0, 1000), data=st.data())
    def update_any_preference(self, actor: int, value: int, data: st.DataObject) -> None:
        target = self._any_pref(data)
        if target is None:
            return
        owner, pref = target
        pair = self.pairs[actor]
        changed = (
            self._in(pair)
            .execute(
                "UPDATE app_user_preferences SET value = %s WHERE id = %s",
                [json.dumps(value), pref],
            )
            .rowcount
        )
        self.conn.commit()
        assert changed == (1 if owner == pair else 0)
        if owner == pair:
            user, key, _ = self.prefs[pair][pref]
            self.prefs[pair][pref] = (user, key, value)

    @rule(actor=PAIRS, data=st.data())
    def delete_any_preference(self, actor: int, data: st.DataObject) -> None:
        target = self._any_pref(data)
        if target is None:
            return
        owner, pref = target
        pair = self.pairs[actor]
        deleted = (
            self._in(pair)
            .execute("DELETE FROM app_user_preferences WHERE id = %s", [pref])
            .rowcount
        )
        self.conn.commit()
        assert deleted == (1 if owner == pair else 0)
        if owner == pair:
            del self.prefs[pair][pref]

    @rule(actor=PAIRS, victim=PAIRS)
    def insert_into_another_pair(self, actor: int, victim: int) -> None:
        if actor == victim:
            return
        try:
            self._in(self.pairs[actor]).execute(
                "INSERT INTO app_users (tenant_id, app_id, id, email) VALUES (%s, %s, %s, 'x@y.z')",
                [*self.pairs[victim], uuid7()],
            )
        except errors.InsufficientPrivilege:
            self.conn.rollback()
        else:
            raise AssertionError("insert into another tenant/app was accepted")

    @invariant()
    def every_context_reads_exactly_its_model(self) -> None:
        for pair in self.pairs:
            conn = self._in(pair)
            users = {r["id"] for r in conn.execute("SELECT id FROM app_users")}
            prefs = {
                r["id"]: (r["app_user_id"], r["key"], r["value"])
                for r in conn.execute(
                    "SELECT id, app_user_id, key, value FROM app_user_preferences"
                )
            }
            assert users == set(self.users[pair])
            assert prefs == self.prefs[pair]
        self.conn.rollback()

    def teardown(self) -> None:
        self.conn.close()
        self.platform.close()


def test_isolation_matches_model(urls, signer) -> None:
    run_state_machine_as_test(
        lambda: IsolationMachine(urls, signer),
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
