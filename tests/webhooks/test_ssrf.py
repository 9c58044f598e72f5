"""Webhook URLs are chosen by tenant administrators: only https to public addresses, the host
resolved at delivery time, every address checked, the request sent to the checked address."""

from __future__ import annotations

import pytest

from tenantry.kit.errors import InvalidInput
from tenantry.kit.outbound import RefusedDestination, pin
from tenantry.webhooks.delivery import WebhookDeliverer
from tenantry.webhooks.service import WebhookService
from tests.webhooks.support import SEALER, delivery_for, webhooks


def resolving_to(*addresses: str):
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.10",
        "172.16.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not bound
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:8.8.8.8",
        "ff02::1",
    ],
)
async def test_a_name_resolving_to_a_non_public_address_is_refused(address) -> None:
    with pytest.raises(RefusedDestination, match="public"):
        await pin("https://hooks.example/x", allow_private=False, resolver=resolving_to(address))


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(RefusedDestination):
        await pin(
            "https://hooks.example/x",
            allow_private=False,
            resolver=resolving_to("93.184.216.34", "127.0.0.1"),
        )


async def test_a_public_name_is_pinned_to_the_checked_address_with_its_host_kept() -> None:
    pinned = await pin(
        "https://hooks.example:8443/x?y=1",
        allow_private=False,
        resolver=resolving_to("93.184.216.34"),
    )
    assert pinned.url == "https://93.184.216.34:8443/x?y=1"
    assert pinned.headers == {"Host": "hooks.example:8443"}
    assert pinned.extensions == {"sni_hostname": "hooks.example"}


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example/x",
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://10.0.0.1/x",
        "ftp://hooks.example/x",
        "https://user:pw@hooks.example/x",
        "hooks.example/x",
    ],
)
async def test_creating_an_endpoint_with_an_unsafe_url_is_refused(db, tenant, url) -> None:
    service = WebhookService(db, SEALER)
    with pytest.raises(InvalidInput, match="url"):
        await service.create(tenant.id, url=url, event_types=["*"])


async def test_invalid_event_types_are_refused(db, tenant) -> None:
    for types in ([], ["Not A Type"], ["a.*.b"]):
        with pytest.raises(InvalidInput, match="event_types"):
            await webhooks(db).create(tenant.id, url="https://hooks.example/x", event_types=types)


async def test_delivery_to_a_name_that_now_resolves_to_loopback_is_refused(db, tenant) -> None:
    """Checked at delivery time: a name that was public at creation can be rebound."""
    created = await WebhookService(db, SEALER).create(
        tenant.id, url="https://hooks.example/x", event_types=["*"]
    )
    worker = WebhookDeliverer(db, SEALER, resolver=resolving_to("127.0.0.1"))
    delivery = delivery_for(tenant.id, created.endpoint.id)
    outcome = await worker.deliver(delivery, delivery.event)
    assert not outcome.ok
    assert outcome.error == "refused: the host must resolve to public addresses only"
    [attempt] = await webhooks(db).attempts(tenant.id, created.endpoint.id)
    assert attempt.error == outcome.error
