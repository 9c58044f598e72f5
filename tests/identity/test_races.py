"""Concurrent duplicates answer one success and conflicts, never a 500 or a second row."""

from __future__ import annotations

import asyncio

from tests.support.accounts import tenant_admin


async def test_concurrent_duplicate_issuers_are_conflicts(control_client, db, tenant) -> None:
    admin = await tenant_admin(control_client, db, tenant, "issuers@example.com")
    body = {
        "app": "thinktank",
        "issuer": "https://idp.example.com",
        "audience": "tenantry",
        "jwks_uri": "https://idp.example.com/jwks",
    }
    answers = await asyncio.gather(
        *(
            control_client.post("/v1/apps/admin/external-issuers", headers=admin.auth, json=body)
            for _ in range(6)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5


async def test_concurrent_sign_ups_with_one_email_make_one_account(
    control_client, db, tenant
) -> None:
    body = {
        "tenant": tenant.slug,
        "email": "twins@example.com",
        "password": "quartz-ember-violin-58",
    }
    answers = await asyncio.gather(
        *(control_client.post("/v1/apps/thinktank/auth/signup", json=body) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [202] * 5
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT count(*) AS n FROM tenantry.app_users WHERE tenant_id = %s", [tenant.id]
        )
    assert row is not None
    assert row["n"] == 1
