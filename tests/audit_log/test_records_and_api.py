"""Each control-plane change records itself in the tenant's log; tenant administrators read
their own tenant's log only, platform administrators any; the CLI verifies and exports it."""

from __future__ import annotations

import json

import psycopg
import pytest

from tenantry.kit.errors import Conflict, InvalidInput
from tenantry.kit.ids import uuid7
from tenantry.tenants.lifecycle import ProvisionRequest
from tests.support.accounts import make_tenant, tenant_admin
from tests.support.cli import tenantry
from tests.support.database import audit_log_unguarded
from tests.support.wiring import FIXTURES, PLATFORM


async def actions(services, tenant_id) -> list[str]:
    return [e.action for e in reversed(await services.audit.search(tenant_id, limit=500))]


async def test_every_wired_change_is_recorded(control_app, operator) -> None:
    services = control_app.state.services
    slug = f"rec-{uuid7().hex[-8:]}"
    done = await services.tenant_admin.provision(
        ProvisionRequest(
            slug=slug,
            name=slug,
            apps=["thinktank"],
            admin_email=f"a@{slug}.test",
            settings={"locale": "fr-FR"},
        ),
        by=FIXTURES,
    )
    tenant_id = done.tenant.id
    await services.settings_admin.set(slug, "timezone", "Europe/Paris", by=FIXTURES, reason="r")
    flag = f"rec.{slug}"
    await services.flags.define(flag, "boolean", False, by=FIXTURES, reason="r")
    await services.flags.set_override(slug, flag, True, by=FIXTURES, reason="r")
    await services.flags.rollback(slug, flag, 1, by=FIXTURES, reason="r")
    await services.flags.remove_override(slug, flag, by=FIXTURES, reason="r")
    await services.domains.add(slug, f"{slug}.example", by=FIXTURES)
    await services.domains.remove(slug, f"{slug}.example", by=FIXTURES)
    for action in ("suspend", "resume", "suspend", "deprovision"):
        await services.tenant_admin.transition(slug, action, reason="r", by=FIXTURES)
    await services.tenant_admin.purge(slug, by=FIXTURES, reason="gone", force=True)
    assert await actions(services, tenant_id) == [
        "setting.change",
        "tenant.provision",
        "setting.change",
        "flag.override",
        "flag.rollback",
        "flag.override_remove",
        "domain.add",
        "domain.remove",
        "tenant.suspend",
        "tenant.resume",
        "tenant.suspend",
        "tenant.deprovision",
        "tenant.purge",
    ]
    entries = await services.audit.search(tenant_id, action="setting.change", limit=1)
    assert entries[0].actor == str(FIXTURES)
    assert entries[0].metadata == {"value": "Europe/Paris", "reason": "r"}
    (operators,) = [s async for s in services.audit.verify(PLATFORM)]
    defined = await services.audit.search(operators.tenant_id, object_id=flag, limit=5)
    assert [e.action for e in defined] == ["flag.define"]
    (whole,) = [s async for s in services.audit.verify(slug)]
    assert whole.ok


async def test_a_change_that_fails_records_nothing(control_app, db) -> None:
    services = control_app.state.services
    tenant = await make_tenant(db, "thinktank")
    before = await actions(services, tenant.id)
    with pytest.raises(InvalidInput):
        await services.settings_admin.set(
            tenant.slug, "locale", "not a locale", by=FIXTURES, reason="r"
        )
    with pytest.raises(Conflict):
        await services.tenant_admin.transition(tenant.slug, "activate", reason="r", by=FIXTURES)
    assert await actions(services, tenant.id) == before


async def test_tenant_admins_read_only_their_own_log(control_client, db, operator) -> None:
    a, b = await make_tenant(db, "admin"), await make_tenant(db, "admin")
    admin_a = await tenant_admin(control_client, db, a, "root@a.test")
    await tenant_admin(control_client, db, b, "root@b.test")
    page = await control_client.get("/v1/apps/admin/audit-log", headers=admin_a.auth)
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert items
    assert {i["object_id"] for i in items if i["object_type"] == "tenant"} == {str(a.id)}
    # Filters cannot widen the tenant: B's id as the object finds nothing.
    other = await control_client.get(
        "/v1/apps/admin/audit-log", headers=admin_a.auth, params={"object_id": str(b.id)}
    )
    assert other.json()["items"] == []
    chain = await control_client.get("/v1/apps/admin/audit-log/verify", headers=admin_a.auth)
    assert chain.status_code == 200
    assert chain.json()["ok"] is True
    bad = await control_client.get(
        "/v1/apps/admin/audit-log", headers=admin_a.auth, params={"limit": 0}
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_failed"
    # The platform reads any tenant's, and only platform administrators may.
    seen = await control_client.get(
        f"/v1/platform/tenants/{b.slug}/audit-log", headers=operator.auth
    )
    assert seen.status_code == 200
    assert {i["object_id"] for i in seen.json()["items"] if i["object_type"] == "tenant"} == {
        str(b.id)
    }
    hidden = await control_client.get(
        f"/v1/platform/tenants/{b.slug}/audit-log", headers=admin_a.auth
    )
    assert hidden.status_code == 404
    missing = await control_client.get(
        "/v1/platform/tenants/no-such/audit-log/verify", headers=operator.auth
    )
    assert missing.status_code == 404


async def test_keyset_pages_walk_the_whole_log(control_client, control_app, db) -> None:
    tenant = await make_tenant(db, "admin")
    admin = await tenant_admin(control_client, db, tenant, "pager@example.com")
    services = control_app.state.services
    for n in range(7):
        await services.settings_admin.set(
            tenant.slug, "timezone", f"Zone/{n}", by=FIXTURES, reason="r"
        )
    seqs, before = [], None
    while True:
        params = {"limit": 3, "action": "setting.change", **({"before": before} if before else {})}
        page = (
            await control_client.get("/v1/apps/admin/audit-log", headers=admin.auth, params=params)
        ).json()
        seqs += [i["seq"] for i in page["items"]]
        before = page["next_before"]
        if before is None:
            break
    assert len(seqs) == 7
    assert seqs == sorted(seqs, reverse=True)


async def test_cli_verifies_and_exports(urls, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    clean = tenantry(urls, "audit", "verify", "--tenant", tenant.slug)
    assert clean.returncode == 0, clean.stderr
    assert f"{tenant.slug}: ok, 1 rows" in clean.stdout
    exported = tenantry(urls, "audit", "export", "--tenant", tenant.slug)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [line["action"] for line in lines] == ["tenant.create"]
    assert lines[0]["prev_hash"] == "00" * 32
    assert lines[0]["tenant_id"] == str(tenant.id)
    empty = tenantry(urls, "audit", "export", "--tenant", tenant.slug, "--since", "2999-01-01")
    assert empty.stdout == ""
    bad = tenantry(urls, "audit", "export", "--since", "yesterday")
    assert bad.returncode != 0
    with psycopg.connect(urls.admin) as conn, audit_log_unguarded(conn):
        conn.execute(
            "UPDATE tenantry.audit_log SET action = 'tenant.nothing' WHERE tenant_id = %s",
            [tenant.id],
        )
    tampered = tenantry(urls, "audit", "verify", "--tenant", tenant.slug)
    assert tampered.returncode == 1
    assert tampered.stdout.strip() == (
        f"{tenant.slug}: TAMPERED: row seq 1 was edited (its content does not match its hash)"
    )
    unknown = tenantry(urls, "audit", "verify", "--tenant", "no-such-tenant")
    assert unknown.returncode == 1
    assert "no tenant" in unknown.stderr
