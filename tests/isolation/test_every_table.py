"""Every declared tenant table, filled with real rows for two tenants through the product's own
flows, attacked as the runtime role: tenant A's context sees exactly A's rows, never B's."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import psycopg
import pyotp
from psycopg import sql
from psycopg.rows import dict_row

from tenantry.events.delivery import Delivery, Event
from tenantry.events.service import apply_once
from tenantry.flags.repository import record_deprecated_use
from tenantry.identity.repository import users
from tenantry.kit.context import TenantContext
from tenantry.kit.ids import uuid7
from tenantry.tenants.lifecycle import ProvisionRequest
from tenantry.webhooks.delivery import WebhookDeliverer
from tenantry.webhooks.sealing import SecretSealer
from tests.isolation.world import apply
from tests.support import workload_conversations, workload_costs, workload_knowledge
from tests.support.accounts import Tenant, latest_mail, login, signed_in, signup, tenant_admin
from tests.support.wiring import FIXTURES


async def _loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def _webhook_delivery(tenant_id: UUID, endpoint_id: UUID) -> tuple[Delivery, Event]:
    event = Event(uuid7(), tenant_id, uuid7(), "t.created", None, {}, datetime.now(UTC))
    return Delivery(tenant_id, uuid7(), f"webhook:{endpoint_id}", 1, event), event


async def _no_effect(tx: object) -> None:
    return None


async def populate(client, control_app, slug: str) -> Tenant:
    services = control_app.state.services
    done = await services.tenant_admin.provision(
        ProvisionRequest(
            slug=slug,
            name=slug,
            plan="business",
            apps=["thinktank"],
            admin_email=f"boss@{slug}.test",
        ),
        by=FIXTURES,
    )
    tenant = Tenant(done.tenant.id, slug)
    user = await signed_in(client, "thinktank", tenant, "everyone@example.com")
    await client.post("/v1/apps/thinktank/api-tokens", headers=user.auth, json={"name": "t"})
    await client.post("/v1/apps/thinktank/auth/refresh", json={"refresh_token": user.refresh})
    secret = (await client.post("/v1/apps/thinktank/mfa/totp", headers=user.auth)).json()["secret"]
    await client.post(
        "/v1/apps/thinktank/mfa/totp/confirm",
        headers=user.auth,
        json={"code": pyotp.TOTP(secret).now()},
    )
    await client.get("/v1/apps/launchboard/me", headers=user.auth)  # a security event
    admin = await tenant_admin(client, control_app.state.services.db, tenant, f"root@{slug}.test")
    await client.post(
        "/v1/apps/admin/external-issuers",
        headers=admin.auth,
        json={
            "app": "thinktank",
            "issuer": f"https://{slug}.idp.example",
            "audience": "a",
            "jwks_uri": f"https://{slug}.idp.example/jwks",
        },
    )
    # Access control: a department tree with a member, a role with a privilege, a template
    # override and assignments (a user's, limited to a subtree, and a department's).
    top = await client.post("/v1/apps/admin/departments", headers=admin.auth, json={"name": "Top"})
    assert top.status_code == 201, top.text
    sub = await client.post(
        "/v1/apps/admin/departments",
        headers=admin.auth,
        json={"name": "Sub", "parent_id": top.json()["id"]},
    )
    assert sub.status_code == 201, sub.text
    joined = await client.post(
        f"/v1/apps/admin/departments/{sub.json()['id']}/members",
        headers=admin.auth,
        json={"app": "thinktank", "user_id": user.id},
    )
    assert joined.status_code == 204, joined.text
    role = await client.post(
        "/v1/apps/admin/roles",
        headers=admin.auth,
        json={"key": "readers", "name": "Readers", "privileges": ["settings.read"]},
    )
    assert role.status_code == 201, role.text
    override = await client.put(
        "/v1/apps/admin/role-templates/viewer/privileges/settings.read",
        headers=admin.auth,
        json={"effect": "grant"},
    )
    assert override.status_code == 204, override.text
    for body in (
        {"role": "readers", "subject": {"kind": "department", "id": top.json()["id"]}},
        {
            "role": "readers",
            "subject": {"kind": "user", "id": user.id, "app": "thinktank"},
            "scope_department_id": sub.json()["id"],
        },
    ):
        assigned = await client.post("/v1/apps/admin/assignments", headers=admin.auth, json=body)
        assert assigned.status_code == 201, assigned.text
    group = await client.post("/v1/apps/admin/groups", headers=admin.auth, json={"name": "G"})
    assert group.status_code == 201, group.text
    joined = await client.post(
        f"/v1/apps/admin/groups/{group.json()['id']}/members",
        headers=admin.auth,
        json={"app": "thinktank", "user_id": user.id},
    )
    assert joined.status_code == 204, joined.text
    policy = await client.put(
        "/v1/apps/admin/policy",
        headers=admin.auth,
        json={"guests_in": True, "guests_out": True, "guest_apps": ["thinktank"]},
    )
    assert policy.status_code == 200, policy.text
    await _guest(client, control_app, admin, tenant, group.json()["id"])
    # The AI workloads' tables (the `workloads` module, built on the library API).
    for workload in (workload_conversations, workload_knowledge, workload_costs):
        await workload.populate(client, control_app, tenant, user)
    invited = await client.post(
        "/v1/apps/admin/apps/thinktank/invitations",
        headers=admin.auth,
        json={"email": f"guest@{slug}.test", "roles": ["member"]},
    )
    assert invited.status_code == 201, invited.text
    await services.settings_admin.set(slug, "locale", "fr-FR", by=FIXTURES, reason="t")
    # Someone acting for the user: an administrator's impersonation and a colleague's delegation.
    await services.settings_admin.set(slug, "impersonation_enabled", True, by=FIXTURES, reason="t")
    impersonated = await client.post(
        "/v1/apps/admin/impersonations",
        headers=admin.auth,
        json={"app": "thinktank", "email": user.email, "reason": "t"},
    )
    assert impersonated.status_code == 201, impersonated.text
    colleague = await signed_in(client, "thinktank", tenant, "colleague@example.com")
    delegated = await client.post(
        "/v1/apps/thinktank/delegations",
        headers=user.auth,
        json={"email": colleague.email, "reason": "t", "minutes": 60},
    )
    assert delegated.status_code == 201, delegated.text
    flag = f"every.{slug}"
    await services.flags.define(flag, "boolean", False, by=FIXTURES, reason="t")
    await services.flags.set_override(slug, flag, True, by=FIXTURES, reason="t")
    await services.domains.add(slug, f"{slug}.example", by=FIXTURES)
    async with services.db.tenant_transaction(
        TenantContext(tenant.id, services.apps.by_slug("thinktank").id)
    ) as tx:
        app_user = await users.get(
            tx, tenant.id, services.apps.by_slug("thinktank").id, UUID(user.id)
        )
        assert app_user is not None
        await users.set_preference(tx, app_user, "theme", "dark")
        # No service links an identity without a token signed by a trusted external issuer;
        # the row is all this test needs, written in the tenant's own context.
        await tx.execute(
            """INSERT INTO tenantry.user_identity_links (tenant_id, app_id, id, app_user_id, issuer, subject)
               SELECT tenant_id, app_id, %s, id, 'https://idp.example', 'sub-1' FROM tenantry.app_users
                WHERE tenant_id = %s LIMIT 1""",
            [uuid7(), tenant.id],
        )
    async with services.db.platform_transaction() as tx:
        await record_deprecated_use(tx, tenant.id, "flag", flag, "thinktank", 1)
    # A licence: the licence, its activation and the entitlements snapshot.
    if not await services.licences.keys.public_keys():
        await services.licences.keys.rotate()
    await services.licences.issue(
        slug,
        "thinktank",
        plan="pro",
        seats=None,
        features=["reports"],
        limits={},
        days=30,
        grace_days=7,
        by=FIXTURES,
    )
    # The registry: a config change of an app is a revision in the tenant's app history.
    await services.tenant_apps.configure(
        slug, "thinktank", {"default_model": "small"}, by=FIXTURES, reason="t"
    )
    # Secrets: the tenant's data key, a secret, its version and the access log's entry.
    await services.secrets.put(
        await services.secrets.scope(slug, "thinktank"),
        "api-key",
        b"value",
        by=FIXTURES,
        principal="operator",
        reason="t",
    )
    # Webhooks: an endpoint, its sealed secret, and an attempt (refused: loopback) in its log.
    hook = await services.webhooks.create(
        tenant.id, url=f"https://hooks.{slug}.example/in", event_types=["*"]
    )
    await WebhookDeliverer(
        services.db, SecretSealer(services.secrets.box), resolver=_loopback
    ).deliver(*_webhook_delivery(tenant.id, hook.endpoint.id))
    # Events: one published by thinktank (delivered to the webhook's subscription) and its
    # consumption by an in-process consumer.
    thinktank = services.apps.by_slug("thinktank").id
    published = await services.outbox.publish(
        tenant.id, thinktank, "thinktank.workspace.created", {"workspace_id": str(tenant.id)}
    )
    await apply_once(
        services.db,
        TenantContext(tenant.id, thinktank),
        "tests.indexer",
        Event(published.id, tenant.id, thinktank, published.type, None, {}, published.created_at),
        _no_effect,
    )
    # The first refresh token again, last (it ends the session): a reuse raises an alert.
    await client.post("/v1/apps/thinktank/auth/refresh", json={"refresh_token": user.refresh})
    return tenant


async def _guest(client, control_app, admin, tenant: Tenant, group_id: str) -> None:
    """A member of another tenant admitted into the group as a guest (both policies agree)."""
    services = control_app.state.services
    home_slug = f"{tenant.slug}-home"
    done = await services.tenant_admin.provision(
        ProvisionRequest(
            slug=home_slug,
            name=home_slug,
            plan="business",
            apps=["thinktank"],
            admin_email=f"boss@{home_slug}.test",
        ),
        by=FIXTURES,
    )
    home = Tenant(done.tenant.id, home_slug)
    home_admin = await tenant_admin(client, services.db, home, f"root@{home_slug}.test")
    opened = await client.put(
        "/v1/apps/admin/policy",
        headers=home_admin.auth,
        json={"guests_in": False, "guests_out": True, "guest_apps": ["thinktank"]},
    )
    assert opened.status_code == 200, opened.text
    member = await signup(client, "thinktank", home, f"partner@{home_slug}.test")
    code = await latest_mail(services.db, member.email)
    verified = await client.post("/v1/apps/thinktank/auth/verify-email", json={"token": code})
    assert verified.status_code == 204, verified.text
    assert (await login(client, member)).status_code == 200
    # One invitation accepted (a guest, its link and membership), one left open.
    for email in (member.email, f"later@{home_slug}.test"):
        invited = await client.post(
            f"/v1/apps/admin/groups/{group_id}/guest-invitations",
            headers=admin.auth,
            json={"app": "thinktank", "email": email},
        )
        assert invited.status_code == 201, invited.text
    accepted = await client.post(
        "/v1/apps/thinktank/guest-invitations/accept",
        headers=member.auth,
        json={"code": await latest_mail(services.db, member.email)},
    )
    assert accepted.status_code == 200, accepted.text


async def test_each_table_shows_a_only_a(control_client, control_app, urls, signer) -> None:
    a = await populate(control_client, control_app, f"ev-a-{uuid7().hex[-6:]}")
    b = await populate(control_client, control_app, f"ev-b-{uuid7().hex[-6:]}")
    thinktank = control_app.state.services.apps.by_slug("thinktank").id
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name, scope, runtime_access FROM tenantry.scoped_tables ORDER BY 2"
        ).fetchall()
        conn.rollback()
        checked = []
        for table in tables:
            name = sql.Identifier(table["table_schema"], table["table_name"])
            for mine, theirs in ((a, b), (b, a)):
                context = TenantContext(
                    mine.id, thinktank, cross_app=True
                )  # the widest a tenant gets
                apply(conn, signer.sign_tenant(context))
                if table["runtime_access"] == "none":
                    try:
                        conn.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(name))
                    except psycopg.errors.InsufficientPrivilege:
                        conn.rollback()
                        continue
                    raise AssertionError(f"{table['table_name']} is readable by the runtime role")
                own = conn.execute(
                    sql.SQL("SELECT count(*) AS n FROM {} WHERE tenant_id = %s").format(name),
                    [mine.id],
                ).fetchone()["n"]
                other = conn.execute(
                    sql.SQL("SELECT count(*) AS n FROM {} WHERE tenant_id <> %s").format(name),
                    [mine.id],
                ).fetchone()["n"]
                named = conn.execute(
                    sql.SQL("SELECT count(*) AS n FROM {} WHERE tenant_id = %s").format(name),
                    [theirs.id],
                ).fetchone()["n"]
                conn.rollback()
                assert other == 0, table["table_name"]
                assert named == 0, table["table_name"]
                assert own > 0, f"{table['table_name']} has no rows for the test to attack"
                checked.append(table["table_name"])
    # Every readable table was attacked with data present for both tenants.
    readable = {t["table_name"] for t in tables if t["runtime_access"] != "none"}
    assert set(checked) == readable
    # The platform-only tables hold rows for both tenants too (they were filled, just not readable).
    async with control_app.state.services.db.platform_transaction() as tx:
        for table in (t for t in tables if t["runtime_access"] == "none"):
            name = sql.Identifier(table["table_schema"], table["table_name"])
            for tenant in (a, b):
                row = await tx.fetch_one(
                    sql.SQL("SELECT count(*) AS n FROM {} WHERE tenant_id = %s").format(name),
                    [tenant.id],
                )
                assert row["n"] > 0, (table["table_name"], tenant.slug)
