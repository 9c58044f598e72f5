"""Secrets over HTTP: privilege-gated for the app's own credentials, every read logged with its
reason, and a value that never reaches a log line, a problem or the audit log."""

from __future__ import annotations

import logging
import os

from tenantry.secrets.models import SecretScope
from tests.secrets.test_envelope import WHO, secrets_with
from tests.support.accounts import signed_in
from tests.support.wiring import services_for

MARKER = "m4rk3r-" + os.urandom(6).hex()


async def _holder(client, admin, tenant, email: str, privileges: list[str]):
    """A thinktank user given a role with `privileges` by the tenant's administrator."""
    user = await signed_in(client, "thinktank", tenant, email)
    key = "vault" + os.urandom(3).hex()
    role = await client.post(
        "/v1/apps/admin/roles",
        headers=admin.auth,
        json={"key": key, "name": "Vault", "privileges": privileges},
    )
    assert role.status_code == 201, role.text
    assigned = await client.post(
        "/v1/apps/admin/assignments",
        headers=admin.auth,
        json={"role": key, "subject": {"kind": "user", "id": user.id, "app": "thinktank"}},
    )
    assert assigned.status_code == 201, assigned.text
    return user


async def test_a_user_without_the_privilege_is_refused(client, admin, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "nobody@example.com")
    listed = await client.get("/v1/apps/thinktank/secrets", headers=user.auth)
    assert listed.status_code == 403, listed.text
    assert listed.json()["code"] == "insufficient_privilege"
    read = await client.get("/v1/apps/thinktank/secrets/x?reason=r", headers=user.auth)
    assert read.status_code == 404, read.text
    put = await client.put(
        "/v1/apps/thinktank/secrets/x", headers=user.auth, json={"value": "v", "reason": "r"}
    )
    assert put.status_code == 404, put.text


async def test_reading_needs_read_and_writing_needs_manage(client, admin, tenant) -> None:
    reader = await _holder(client, admin, tenant, "reader@example.com", ["secrets.read"])
    put = await client.put(
        "/v1/apps/thinktank/secrets/api-key",
        headers=reader.auth,
        json={"value": "v", "reason": "r"},
    )
    assert put.status_code == 404, put.text
    manager = await _holder(
        client, admin, tenant, "manager@example.com", ["secrets.read", "secrets.manage"]
    )
    put = await client.put(
        "/v1/apps/thinktank/secrets/api-key",
        headers=manager.auth,
        json={"value": "hunter2", "reason": "set up"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["current_version"] == 1
    no_reason = await client.get("/v1/apps/thinktank/secrets/api-key", headers=reader.auth)
    assert no_reason.status_code == 422
    read = await client.get("/v1/apps/thinktank/secrets/api-key?reason=deploy", headers=reader.auth)
    assert read.status_code == 200, read.text
    assert read.json() == {"name": "api-key", "version": 1, "value": "hunter2"}
    listed = await client.get("/v1/apps/thinktank/secrets", headers=reader.auth)
    assert [s["name"] for s in listed.json()] == ["api-key"]
    assert "hunter2" not in listed.text
    [entry, _] = await services_for(client_db(client)).secrets.access_log(tenant.id)
    assert (entry.action, entry.reason, entry.principal) == ("read", "deploy", "user")
    # Another app's credential sees nothing of thinktank's secrets.
    other = await signed_in(client, "launchboard", tenant, "reader@example.com")
    elsewhere = await client.get(
        "/v1/apps/launchboard/secrets/api-key?reason=x", headers=other.auth
    )
    assert elsewhere.status_code == 404


def client_db(client):
    return client._transport.app.state.services.db


async def test_a_value_never_reaches_logs_problems_or_the_audit_log(
    client, admin, tenant, db, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    manager = await _holder(
        client, admin, tenant, "keeper@example.com", ["secrets.read", "secrets.manage"]
    )
    base = "/v1/apps/thinktank/secrets/marked"
    bodies = []
    put = await client.put(base, headers=manager.auth, json={"value": MARKER, "reason": "r"})
    assert put.status_code == 200, put.text
    bodies.append(put.text)
    got = await client.get(f"{base}?reason=check", headers=manager.auth)
    assert got.json()["value"] == MARKER
    first = await client.get(f"{base}?reason=check&version=1", headers=manager.auth)
    assert first.json()["value"] == MARKER  # the reads are the only answers that carry it
    for response in (
        await client.post(f"{base}/rotate", headers=manager.auth, json={"reason": "r"}),
        # Errors: a value too long, an unknown field beside the value, a missing reason.
        await client.put(base, headers=manager.auth, json={"value": MARKER * 5000, "reason": "r"}),
        await client.put(
            base, headers=manager.auth, json={"value": MARKER, "reason": "r", "x": MARKER}
        ),
        await client.put(base, headers=manager.auth, json={"value": MARKER}),
        await client.post(f"{base}/disable", headers=manager.auth, json={"reason": "r"}),
        await client.get(f"{base}?reason=after", headers=manager.auth),
    ):
        bodies.append(response.text)  # noqa: PERF401 - each response awaited in turn, in order
    # The operator's paths too: rewrap under a new master key, a data key rotation.
    services = client._transport.app.state.services
    await services.secrets.rewrap_all()
    scope = SecretScope(tenant.id, services.apps.by_slug("thinktank").id)
    other = secrets_with(db, os.urandom(32))
    await services.secrets.rotate_data_key(tenant.slug, WHO["by"])
    try:
        await other.reveal(scope, "marked", version=1, **WHO)
    except Exception as exc:
        bodies.append(repr(exc))
    assert MARKER not in caplog.text
    assert not [b for b in bodies if MARKER in b]
    entries = await services.audit.search(tenant.id, limit=200)
    assert entries
    assert not [e for e in entries if MARKER in repr(e)]


async def test_tenant_administrators_manage_any_of_the_tenants_apps(client, admin, tenant) -> None:
    base = "/v1/apps/admin/apps/thinktank/secrets"
    put = await client.put(
        f"{base}/shared", headers=admin.auth, json={"value": "s3cr3t", "reason": "provision"}
    )
    assert put.status_code == 200, put.text
    read = await client.get(f"{base}/shared?reason=audit", headers=admin.auth)
    assert read.status_code == 200, read.text
    assert read.json()["value"] == "s3cr3t"
    rotated = await client.post(f"{base}/shared/rotate", headers=admin.auth, json={"reason": "r"})
    assert rotated.json()["current_version"] == 2
    listed = await client.get(base, headers=admin.auth)
    assert [(s["name"], s["versions"]) for s in listed.json()] == [("shared", 2)]
    # The app's own credential holding secrets.read reads the same secret.
    reader = await _holder(client, admin, tenant, "app-reader@example.com", ["secrets.read"])
    own = await client.get("/v1/apps/thinktank/secrets/shared?reason=use", headers=reader.auth)
    assert own.json()["version"] == 2
    # An app the tenant does not have, and a user of an app without the admin scope.
    missing = await client.get("/v1/apps/admin/apps/nosuchapp/secrets", headers=admin.auth)
    assert missing.status_code == 404
    hidden = await client.get("/v1/apps/thinktank/apps/thinktank/secrets", headers=reader.auth)
    assert hidden.status_code == 404
