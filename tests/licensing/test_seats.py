"""Seats, held by the database: active identities plus open invitations never exceed the
licence's seats, whichever path adds someone, and two invitations racing for the last seat
never both win."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.accounts import latest_mail, signup
from tests.support.invitations import accept, invite
from tests.support.wiring import FIXTURES, PASSWORD


@pytest.fixture
async def services(app):
    services = app.state.services
    if not await services.licences.keys.public_keys():
        await services.licences.keys.rotate()
    return services


async def _license(services, tenant, seats: int) -> None:
    await services.licences.issue(
        tenant.slug,
        "thinktank",
        plan="team",
        seats=seats,
        features=[],
        limits={},
        days=30,
        grace_days=7,
        by=FIXTURES,
    )


async def test_two_invitations_for_the_last_seat_exactly_one_wins(
    client, admin, tenant, services
) -> None:
    await _license(services, tenant, seats=1)
    for round_ in range(20):
        first, second = await asyncio.gather(
            invite(client, admin, "thinktank", f"a{round_}@example.com"),
            invite(client, admin, "thinktank", f"b{round_}@example.com"),
        )
        outcomes = sorted([first.status_code, second.status_code])
        assert outcomes == [201, 409], (first.text, second.text)
        loser = first if first.status_code == 409 else second
        assert loser.json()["code"] == "seat_limit_reached"
        winner = first if first.status_code == 201 else second
        # Withdrawing the invitation frees its seat for the next round.
        revoked = await client.post(
            f"/v1/apps/admin/apps/thinktank/invitations/{winner.json()['id']}/revoke",
            headers=admin.auth,
            json={"reason": "next round"},
        )
        assert revoked.status_code == 200, revoked.text


async def test_accepting_consumes_its_own_reservation_and_sign_up_is_held_too(
    client, db, admin, tenant, services
) -> None:
    await _license(services, tenant, seats=1)
    invited = await invite(client, admin, "thinktank", "only@example.com")
    assert invited.status_code == 201, invited.text
    usage = await services.licences.usage(tenant.slug)
    assert (usage[0].used, usage[0].open_invitations) == (1, 1)
    accepted = await accept(client, "thinktank", await latest_mail(db, "only@example.com"))
    assert accepted.status_code == 201, accepted.text
    usage = await services.licences.usage(tenant.slug)
    assert (usage[0].used, usage[0].active_users, usage[0].open_invitations) == (1, 1, 0)
    # Every seat is taken: another invitation and a self sign-up are both refused.
    refused = await invite(client, admin, "thinktank", "second@example.com")
    assert (refused.status_code, refused.json()["code"]) == (409, "seat_limit_reached")
    signed = await client.post(
        "/v1/apps/thinktank/auth/signup",
        json={"tenant": tenant.slug, "email": "walkin@example.com", "password": PASSWORD},
    )
    assert (signed.status_code, signed.json()["code"]) == (409, "seat_limit_reached")
    usage = await services.licences.usage(tenant.slug)
    assert usage[0].active_users == 1
    # Unlimited seats lift it.
    await services.licences.issue(
        tenant.slug,
        "thinktank",
        plan="unlimited",
        seats=None,
        features=[],
        limits={},
        days=30,
        grace_days=0,
        by=FIXTURES,
    )
    assert (await invite(client, admin, "thinktank", "second@example.com")).status_code == 201
    await signup(client, "thinktank", tenant, "walkin2@example.com")
