"""A tenant with something in every kind of table, for tests that move it."""

from __future__ import annotations

import os

import psycopg
import pytest

from tenantry.tenants.lifecycle import ProvisionRequest
from tests.support import workload_conversations
from tests.support.accounts import Tenant, User, signed_in
from tests.support.database import Urls
from tests.support.wiring import FIXTURES

SECRET = b"the tenant's API key for its mail provider"


@pytest.fixture
async def exported(control_client, control_app) -> tuple[Tenant, User]:
    """A tenant with users, tokens, settings, conversations and a secret."""
    services = control_app.state.services
    slug = f"moving-{os.urandom(3).hex()}"
    request = ProvisionRequest(
        slug=slug, name="Moving Co", plan="business", apps=["thinktank"],
        admin_email=f"owner@{slug}.test",
    )  # fmt: skip
    provisioned = await services.tenant_admin.provision(request, by=FIXTURES)
    tenant = Tenant(provisioned.tenant.id, slug)
    user = await signed_in(control_client, "thinktank", tenant, f"mover@{slug}.test")
    created = await control_client.post(
        "/v1/apps/thinktank/api-tokens", headers=user.auth, json={"name": "ci"}
    )
    assert created.status_code == 201, created.text
    await workload_conversations.populate(control_client, control_app, tenant, user)
    await services.settings_admin.set(slug, "timezone", "Europe/Berlin", by=FIXTURES, reason="t")
    await services.secrets.put(
        await services.secrets.scope(slug, "thinktank"), "mail.key", SECRET,
        by=FIXTURES, principal="operator", reason="test",
    )  # fmt: skip
    return tenant, user


def counts(urls: Urls, tenant: Tenant) -> dict[str, int]:
    """Rows per declared tenant table, read as the owner of the data."""
    with psycopg.connect(urls.admin) as conn:
        tables = conn.execute(
            "SELECT format('%I.%I', table_schema, table_name) FROM tenantry.scoped_tables"
        ).fetchall()
        found = {}
        for (name,) in tables:
            row = conn.execute(f"SELECT count(*) FROM {name} WHERE tenant_id = %s", [tenant.id])
            found[name] = row.fetchone()[0]
        return found
