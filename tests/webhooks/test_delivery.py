"""Delivering to a real receiver on loopback: Standard Webhooks signatures that the reference
library verifies, both signatures during a rotation's overlap, the log and the health, no
redirect followed, timeouts, and auto-disable with a mail and an audit entry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tenantry.identity.mail import newest
from tenantry.kit.context import TenantContext
from tenantry.secrets.models import SecretUnreadable
from tenantry.webhooks.delivery import WebhookDeliverer
from tests.support.accounts import make_tenant
from tests.support.wiring import FIXTURES, services_for
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import SEALER, delivery_for, webhooks


def deliverer(db, **options) -> WebhookDeliverer:
    return WebhookDeliverer(db, SEALER, allow_private=True, **options)


async def test_a_delivery_is_signed_so_the_receiver_verifies_it_and_is_logged(db, tenant) -> None:
    with Receiver() as receiver:
        created = await webhooks(db).create(
            tenant.id, url=receiver.url, event_types=["thinktank.chat.*"]
        )
        assert created.secret.startswith("whsec_")
        delivery = delivery_for(tenant.id, created.endpoint.id)
        outcome = await deliverer(db).deliver(delivery, delivery.event)
    assert outcome.ok, outcome
    assert outcome.status_code == 200
    assert outcome.latency_ms is not None
    got = receiver.got[0]
    assert got.headers["webhook-id"] == str(delivery.event.id)
    verified = Webhook(created.secret).verify(got.body, got.headers)
    assert verified["type"] == "thinktank.chat.created"
    assert verified["data"] == {"chat": "hello"}
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 44).verify(got.body, got.headers)
    [attempt] = await webhooks(db).attempts(tenant.id, created.endpoint.id)
    assert (attempt.ok, attempt.status_code, attempt.response_excerpt) == (True, 200, "ok")
    endpoint = await webhooks(db).get(tenant.id, created.endpoint.id)
    assert (endpoint.successes, endpoint.failures, endpoint.failing_since) == (1, 0, None)


async def test_during_a_rotation_both_secrets_sign_and_after_it_only_the_new_one(
    db, tenant
) -> None:
    service = webhooks(db)
    with Receiver() as receiver:
        created = await service.create(tenant.id, url=receiver.url, event_types=["*"])
        rotated = await service.rotate_secret(tenant.id, created.endpoint.id)
        delivery = delivery_for(tenant.id, created.endpoint.id)
        assert (await deliverer(db).deliver(delivery, delivery.event)).ok
        # No overlap: the previous secret expires at once.
        newest_secret = await webhooks(db, overlap=timedelta(0)).rotate_secret(
            tenant.id, created.endpoint.id
        )
        assert (await deliverer(db).deliver(delivery, delivery.event)).ok
    assert rotated != created.secret
    overlapping, after = receiver.got
    assert len(overlapping.headers["webhook-signature"].split(" ")) == 2
    for secret in (created.secret, rotated):
        Webhook(secret).verify(overlapping.body, overlapping.headers)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(newest_secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(rotated).verify(after.body, after.headers)


async def test_the_secret_is_stored_sealed_and_bound_to_its_row(db, tenant) -> None:
    created = await webhooks(db).create(tenant.id, url="https://hooks.example/x", event_types=["*"])
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT sealed FROM tenantry.webhook_secrets WHERE endpoint_id = %s",
            (created.endpoint.id,),
        )
    assert row is not None
    raw = Webhook(created.secret)._whsecret
    assert raw not in bytes(row["sealed"])
    async with db.tenant_transaction(TenantContext(tenant.id)) as tx:
        opened = await SEALER.open_in(tx, tenant.id, created.endpoint.id, 1, bytes(row["sealed"]))
        assert opened == raw
    with pytest.raises(SecretUnreadable):
        async with db.tenant_transaction(TenantContext(tenant.id)) as tx:
            await SEALER.open_in(tx, tenant.id, created.endpoint.id, 2, bytes(row["sealed"]))


async def test_a_redirect_is_a_failed_attempt_and_is_not_followed(db, tenant) -> None:
    with Receiver() as target, Receiver(status=302) as receiver:
        receiver.location = target.url
        created = await webhooks(db).create(tenant.id, url=receiver.url, event_types=["*"])
        delivery = delivery_for(tenant.id, created.endpoint.id)
        outcome = await deliverer(db).deliver(delivery, delivery.event)
    assert (outcome.ok, outcome.status_code) == (False, 302)
    assert "redirect" in (outcome.error or "")
    assert target.got == []
    endpoint = await webhooks(db).get(tenant.id, created.endpoint.id)
    assert (endpoint.failures, endpoint.last_status_code) == (1, 302)
    assert endpoint.failing_since is not None


async def test_a_slow_receiver_times_out(db, tenant) -> None:
    with Receiver(delay=2.0) as receiver:
        created = await webhooks(db).create(tenant.id, url=receiver.url, event_types=["*"])
        delivery = delivery_for(tenant.id, created.endpoint.id)
        outcome = await deliverer(db, total_seconds=0.3).deliver(delivery, delivery.event)
    assert not outcome.ok
    assert outcome.error == "timed out after 0.3 s"
    assert outcome.latency_ms is not None
    assert outcome.latency_ms < 1500


async def test_sustained_failure_disables_the_endpoint_and_tells_the_admins(db) -> None:
    services = services_for(db)
    tenant = await make_tenant(db, "thinktank")
    _, apps = await services.tenant_admin.ensure_tenant(
        tenant.slug, tenant.slug, "free", ["admin"], by=FIXTURES
    )
    boss = f"boss-{tenant.slug}@example.com"
    await services.users.add(tenant.id, apps["admin"].id, boss, "Boss", password_hash=None)
    from tenantry.webhooks.notify import DisabledMail

    notifier = DisabledMail(services.apps, services.users)
    worker = deliverer(db, notifier=notifier, disable_after=timedelta(0), min_failures=3)
    with Receiver(status=500) as receiver:
        created = await webhooks(db).create(tenant.id, url=receiver.url, event_types=["*"])
        delivery = delivery_for(tenant.id, created.endpoint.id)
        for _ in range(3):
            assert not (await worker.deliver(delivery, delivery.event)).ok
        stopped = await worker.deliver(delivery, delivery.event)
    assert stopped.error == "the endpoint is disabled"
    assert len(receiver.got) == 3
    endpoint = await webhooks(db).get(tenant.id, created.endpoint.id)
    assert endpoint.status == "disabled"
    assert "3 attempts" in (endpoint.disabled_reason or "")
    mails = [m for m in await newest(db, 500) if m["to_address"] == boss]
    assert [m["subject"] for m in mails] == ["A webhook endpoint was disabled"]
    async with db.platform_transaction() as tx:
        audit = await tx.fetch_all(
            "SELECT action, metadata FROM tenantry.audit_log WHERE tenant_id = %s"
            " AND action = 'webhook_endpoint.disabled'",
            (tenant.id,),
        )
    assert len(audit) == 1
    assert json.loads(json.dumps(audit[0]["metadata"]))["url"] == receiver.url
    enabled = await webhooks(db).enable(tenant.id, created.endpoint.id)
    assert (enabled.status, enabled.consecutive_failures, enabled.failing_since) == (
        "enabled",
        0,
        None,
    )
