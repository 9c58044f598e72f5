"""Licence files: issued and verified offline; forged, tampered, expired, other-tenant and
other-app files refused on verify and import; key rotation with overlap; revocation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tenantry.licensing import Licence, LicenceInvalid, verify_licence
from tenantry.licensing.document import (
    b64url,
    export_public_keys,
    load_public_keys,
    sign,
    unb64url,
)
from tests.support.accounts import make_tenant
from tests.support.wiring import FIXTURES, services_for


async def _issue(services, tenant, app="thinktank", **terms):
    values = {
        "plan": "pro",
        "seats": 5,
        "features": ["reports"],
        "limits": {"projects": 3},
        "days": 30,
        "grace_days": 7,
        **terms,
    }
    return await services.licences.issue(tenant.slug, app, by=FIXTURES, **values)


@pytest.fixture
async def services(db):
    services = services_for(db)
    if not await services.licences.keys.public_keys():
        await services.licences.keys.rotate()
    return services


async def test_issued_licence_verifies_offline_with_exported_keys(services, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    stored = await _issue(services, tenant)
    keys = load_public_keys(await services.licences.keys.export_public())
    licence = verify_licence(stored.document, keys)
    assert (licence.tenant_id, licence.tenant_slug, licence.app) == (
        tenant.id,
        tenant.slug,
        "thinktank",
    )
    assert (licence.plan, licence.seats, licence.features, licence.limits) == (
        "pro",
        5,
        ("reports",),
        {"projects": 3},
    )
    assert licence.grace_days == 7
    # The file holds the payload, the signature and the kid: never a private key.
    document = json.loads(stored.document)
    assert set(document) == {"format", "kid", "payload", "signature"}
    assert b"PRIVATE" not in stored.document


async def test_forged_tampered_and_expired_files_are_refused(services, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    stored = await _issue(services, tenant)
    keys = await services.licences.keys.public_keys()
    document = json.loads(stored.document)

    forger = Ed25519PrivateKey.generate()
    _, _, forged = sign(stored.licence, document["kid"], forger)
    with pytest.raises(LicenceInvalid) as refused:
        verify_licence(forged, keys)
    assert refused.value.reason == "bad_signature"
    _, _, unknown = sign(stored.licence, "lk-unknown", forger)
    with pytest.raises(LicenceInvalid) as refused:
        verify_licence(unknown, keys)
    assert refused.value.reason == "unknown_kid"

    payload = json.loads(unb64url(document["payload"]))
    payload["seats"] = 5000
    tampered = json.dumps({**document, "payload": b64url(json.dumps(payload).encode())})
    with pytest.raises(LicenceInvalid) as refused:
        verify_licence(tampered.encode(), keys)
    assert refused.value.reason == "bad_signature"

    with pytest.raises(LicenceInvalid) as refused:
        verify_licence(b"{not json", keys)
    assert refused.value.reason == "bad_format"

    later = stored.licence.valid_until + timedelta(days=8)
    with pytest.raises(LicenceInvalid) as refused:
        verify_licence(stored.document, keys, now=later)
    assert refused.value.reason == "expired"
    # Within the grace period it still verifies.
    verify_licence(stored.document, keys, now=stored.licence.valid_until + timedelta(days=6))
    with pytest.raises(LicenceInvalid) as refused:
        verify_licence(stored.document, keys, now=stored.licence.valid_from - timedelta(days=1))
    assert refused.value.reason == "not_yet_valid"

    # Import refuses the same files, and the tampered one cannot slip in either.
    for bad in (forged, tampered.encode()):
        with pytest.raises(LicenceInvalid):
            await services.licences.import_file(bad, FIXTURES)


def _resigned(services_keys_pem: str, kid: str, licence: Licence) -> bytes:
    key = serialization.load_pem_private_key(services_keys_pem.encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return sign(licence, kid, key)[2]


async def test_import_refuses_other_tenants_and_other_apps(services, db) -> None:
    ours = await make_tenant(db, "thinktank")
    other = await make_tenant(db, "launchboard")
    stored = await _issue(services, ours)
    # A licence for a tenant this installation does not have (another installation's).
    async with db.platform_transaction() as tx:
        kid, key = await services.licences.keys.signer_in(tx)
    now = datetime.now(UTC).replace(microsecond=0)
    stranger = Licence(
        **{
            **_fields(stored.licence),
            "tenant_slug": "elsewhere",
            "issued_at": now,
            "valid_from": now,
            "valid_until": now + timedelta(days=3),
        }
    )
    with pytest.raises(LicenceInvalid) as refused:
        await services.licences.import_file(sign(stranger, kid, key)[2], FIXTURES)
    assert refused.value.reason == "other_tenant"
    # Another tenant's id under our slug, and our licence presented for another tenant.
    swapped = Licence(**{**_fields(stored.licence), "tenant_id": other.id})
    with pytest.raises(LicenceInvalid) as refused:
        await services.licences.import_file(sign(swapped, kid, key)[2], FIXTURES)
    assert refused.value.reason == "other_tenant"
    with pytest.raises(LicenceInvalid) as refused:
        await services.licences.import_file(stored.document, FIXTURES, tenant_slug=other.slug)
    assert refused.value.reason == "other_tenant"
    # An app the tenant does not have, and an app this installation does not know.
    for app in ("launchboard", "no-such-app"):
        foreign = Licence(**{**_fields(stored.licence), "app": app})
        with pytest.raises(LicenceInvalid) as refused:
            await services.licences.import_file(sign(foreign, kid, key)[2], FIXTURES)
        assert refused.value.reason == "other_app"
    # Our own file imports (an air-gapped reinstall), and is recorded as an activation.
    imported = await services.licences.import_file(stored.document, FIXTURES)
    assert imported.licence.id == stored.licence.id


def _fields(licence: Licence) -> dict:
    return {name: getattr(licence, name) for name in Licence.__slots__}


async def test_rotation_overlaps_and_retirement_stops_verification(services, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    before = await _issue(services, tenant)
    new_kid = await services.licences.keys.rotate()
    after = await _issue(services, tenant)
    assert after.licence.kid == new_kid != before.licence.kid
    keys = await services.licences.keys.public_keys()
    # Both verify during the overlap.
    assert verify_licence(before.document, keys).id == before.licence.id
    assert verify_licence(after.document, keys).id == after.licence.id
    await services.licences.keys.retire(before.licence.kid)
    keys = await services.licences.keys.public_keys()
    with pytest.raises(LicenceInvalid) as refused:
        verify_licence(before.document, keys)
    assert refused.value.reason == "unknown_kid"
    assert verify_licence(after.document, keys).id == after.licence.id
    exported = load_public_keys(await services.licences.keys.export_public())
    assert before.licence.kid not in exported
    assert new_kid in exported
    assert export_public_keys(exported) == await services.licences.keys.export_public()


async def test_revocation_blocks_the_entitlement(services, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    stored = await _issue(services, tenant)
    usage = await services.licences.usage(tenant.slug)
    assert [(u.app, u.seats, u.used, u.state) for u in usage] == [("thinktank", 5, 0, "valid")]
    await services.licences.revoke(stored.licence.id, "unpaid", FIXTURES)
    usage = await services.licences.usage(tenant.slug)
    assert usage[0].state == "blocked"
    revoked = await services.licences.show(stored.licence.id)
    assert (revoked.status, revoked.revoked_reason) == ("revoked", "unpaid")
    with pytest.raises(LicenceInvalid) as refused:
        await services.licences.import_file(stored.document, FIXTURES)
    assert refused.value.reason == "revoked"
