"""Domains verified by DNS TXT against a real (loopback) name server, and login by domain."""

from __future__ import annotations

from tenantry.kit.ids import uuid7
from tests.support.accounts import make_tenant, signup


async def test_domain_verification_primary_and_login(
    control_client, operator, db, dns_stub
) -> None:
    tenant = await make_tenant(db, "thinktank")
    rival = await make_tenant(db, "thinktank")
    domain = f"corp-{uuid7().hex[-8:]}.example"
    added = await control_client.post(
        f"/v1/platform/tenants/{tenant.slug}/domains",
        headers=operator.auth,
        json={"domain": domain.upper()},
    )
    assert added.status_code == 201, added.text
    record = added.json()
    assert record["domain"] == domain
    # Not published yet: refused with the reason.
    early = await control_client.post(
        f"/v1/platform/tenants/{tenant.slug}/domains/{domain}/verify", headers=operator.auth
    )
    assert early.status_code == 422
    assert record["record"] in early.json()["detail"]
    # A primary domain must be verified first.
    assert (
        await control_client.post(
            f"/v1/platform/tenants/{tenant.slug}/domains/{domain}/primary", headers=operator.auth
        )
    ).status_code == 422
    dns_stub.records[record["record"]] = ["unrelated", record["value"]]
    verified = await control_client.post(
        f"/v1/platform/tenants/{tenant.slug}/domains/{domain}/verify", headers=operator.auth
    )
    assert verified.status_code == 204, verified.text
    assert (
        await control_client.post(
            f"/v1/platform/tenants/{tenant.slug}/domains/{domain}/primary", headers=operator.auth
        )
    ).status_code == 204

    # Another tenant cannot claim it, even with its own valid TXT record.
    other = (
        await control_client.post(
            f"/v1/platform/tenants/{rival.slug}/domains",
            headers=operator.auth,
            json={"domain": domain},
        )
    ).json()
    dns_stub.records[other["record"]] = [record["value"], other["value"]]
    stolen = await control_client.post(
        f"/v1/platform/tenants/{rival.slug}/domains/{domain}/verify", headers=operator.auth
    )
    assert stolen.status_code == 409

    # Login without naming the tenant: the email's verified domain decides.
    user = await signup(control_client, "thinktank", tenant, f"worker@{domain}")
    by_domain = await control_client.post(
        "/v1/apps/thinktank/auth/login", json={"email": user.email, "password": user.password}
    )
    assert by_domain.status_code == 200, by_domain.text
    unknown = await control_client.post(
        "/v1/apps/thinktank/auth/login",
        json={"email": "x@unclaimed.example", "password": "whatever-long-pass"},
    )
    assert unknown.status_code == 401

    detail = (
        await control_client.get(f"/v1/platform/tenants/{tenant.slug}", headers=operator.auth)
    ).json()
    assert [
        (d["domain"], d["is_primary"], d["verified_at"] is not None) for d in detail["domains"]
    ] == [(domain, True, True)]
    # Removing releases the claim: now the rival can verify it.
    assert (
        await control_client.delete(
            f"/v1/platform/tenants/{tenant.slug}/domains/{domain}", headers=operator.auth
        )
    ).status_code == 204
    assert (
        await control_client.post(
            f"/v1/platform/tenants/{rival.slug}/domains/{domain}/verify", headers=operator.auth
        )
    ).status_code == 204
    assert (
        await control_client.delete(
            f"/v1/platform/tenants/{tenant.slug}/domains/{domain}", headers=operator.auth
        )
    ).status_code == 404


async def test_bad_domains_are_refused(control_client, operator, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    for bad in ("localhost", "-bad-.example", "a..b.example", "white space.example"):
        response = await control_client.post(
            f"/v1/platform/tenants/{tenant.slug}/domains",
            headers=operator.auth,
            json={"domain": bad},
        )
        assert response.status_code == 422, bad


async def test_domain_changes_are_recorded_with_their_actor(
    control_client, control_app, operator, db, dns_stub
) -> None:
    counter = control_app.state.services.metrics.security_events

    def counted(kind: str) -> float:
        return counter.labels(kind=kind)._value.get()

    before = counted("domain_added"), counted("domain_verified")
    tenant = await make_tenant(db, "thinktank")
    domain = f"audit-{uuid7().hex[-8:]}.example"
    record = (
        await control_client.post(
            f"/v1/platform/tenants/{tenant.slug}/domains",
            headers=operator.auth,
            json={"domain": domain},
        )
    ).json()
    dns_stub.records[record["record"]] = [record["value"]]
    assert (
        await control_client.post(
            f"/v1/platform/tenants/{tenant.slug}/domains/{domain}/verify", headers=operator.auth
        )
    ).status_code == 204
    async with db.platform_transaction() as tx:
        rows = await tx.fetch_all(
            "SELECT kind, detail FROM tenantry.security_events WHERE tenant_id = %s AND kind LIKE 'domain_%%' ORDER BY id",
            [tenant.id],
        )
    assert [r["kind"] for r in rows] == ["domain_added", "domain_verified"]
    # Recorded through the security-events service: counted like every other event.
    assert (counted("domain_added"), counted("domain_verified")) == (before[0] + 1, before[1] + 1)
    assert all(
        r["detail"]["domain"] == domain and r["detail"]["actor"].startswith("platform-admin:")
        for r in rows
    )
    too_long = "a" * 60 + "." + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + ".example"
    response = await control_client.post(
        f"/v1/platform/tenants/{tenant.slug}/domains",
        headers=operator.auth,
        json={"domain": too_long},
    )
    assert response.status_code == 422
