"""An endpoint's event subscription follows it (created, disabled, enabled, deleted), and the
test event reaches the receiver signed and shows in the log."""

from __future__ import annotations

from standardwebhooks.webhooks import Webhook

from tenantry.webhooks.delivery import WebhookDeliverer
from tenantry.webhooks.service import WebhookService
from tenantry.webhooks.subscriptions import EventSubscriptions
from tests.support.wiring import services_for
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import SEALER


def _service(db) -> WebhookService:
    services = services_for(db)
    feed = EventSubscriptions(services.outbox, services.apps)
    return WebhookService(db, SEALER, feed, allow_private=True)


async def _subscription(db, tenant_id, endpoint_id):
    subscriptions = await services_for(db).outbox.subscriptions(tenant_id)
    [found] = [s for s in subscriptions if s.consumer == f"webhook:{endpoint_id}"]
    return found


async def test_the_subscription_follows_the_endpoint(db, tenant) -> None:
    service = _service(db)
    created = await service.create(
        tenant.id, url="https://hooks.example/in", event_types=["thinktank.chat.*"]
    )
    endpoint_id = created.endpoint.id
    subscription = await _subscription(db, tenant.id, endpoint_id)
    assert (subscription.types, subscription.active) == (["thinktank.chat.*"], True)
    await service.update(tenant.id, endpoint_id, event_types=["thinktank.*"])
    assert (await _subscription(db, tenant.id, endpoint_id)).types == ["thinktank.*"]
    disabled = await service.disable(tenant.id, endpoint_id, "paused by the admin")
    assert (disabled.status, disabled.disabled_reason) == ("disabled", "paused by the admin")
    assert not (await _subscription(db, tenant.id, endpoint_id)).active
    await service.enable(tenant.id, endpoint_id)
    assert (await _subscription(db, tenant.id, endpoint_id)).active
    await service.delete(tenant.id, endpoint_id)
    assert not (await _subscription(db, tenant.id, endpoint_id)).active
    assert await service.endpoints(tenant.id) == []


async def test_the_test_event_reaches_the_receiver_signed_and_is_logged(db, tenant) -> None:
    service = _service(db)
    with Receiver() as receiver:
        created = await service.create(tenant.id, url=receiver.url, event_types=["a.b"])
        worker = WebhookDeliverer(db, SEALER, allow_private=True)
        outcome = await worker.send_test(tenant.id, created.endpoint.id)
    assert outcome.ok, outcome
    [got] = receiver.got
    assert Webhook(created.secret).verify(got.body, got.headers)["type"] == "webhook.test"
    [attempt] = await service.attempts(tenant.id, created.endpoint.id)
    assert (attempt.event_type, attempt.ok) == ("webhook.test", True)
