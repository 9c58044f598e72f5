"""Rules over security events: one alert per (rule, tenant, source, window) however many events
and writers, none for a rolled-back event, and each tenant reads and acknowledges only its own."""

from __future__ import annotations

import asyncio
import time

import pytest

from tenantry.identity.mail import newest
from tenantry.kit.actor import Actor
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import NotFound
from tenantry.kit.ids import uuid7
from tenantry.security_events.service import Origin
from tests.support.accounts import make_tenant
from tests.support.wiring import FIXTURES, services_for


async def _probe(services, tenant, ip: str, n: int) -> None:
    for _ in range(n):
        await services.events.record("app_mismatch", tenant_id=tenant.id, origin=Origin(ip=ip))


async def test_a_burst_raises_one_alert_per_window(db) -> None:
    services = services_for(db)
    tenant = await make_tenant(db)
    await _probe(services, tenant, "203.0.113.7", 4)
    assert await services.alerts.search(tenant.id) == []  # below the threshold: no alert
    await _probe(services, tenant, "203.0.113.7", 8)
    alerts = await services.alerts.search(tenant.id)
    # Twelve events in fixed ten-minute windows: one alert, or two if the burst straddled a
    # window boundary (then each window counted its own).
    assert 1 <= len(alerts) <= 2
    assert len({a.window_start for a in alerts}) == len(alerts)
    assert {(a.rule, a.source, a.severity, a.status) for a in alerts} == {
        ("cross_scope_probing", "203.0.113.7", "critical", "open")
    }
    assert alerts[-1].occurrences >= 5
    # Another source counts on its own.
    await _probe(services, tenant, "198.51.100.9", 2)
    assert len(await services.alerts.search(tenant.id)) == len(alerts)


async def test_concurrent_writers_raise_exactly_one_alert(db) -> None:
    services = services_for(db)
    tenant = await make_tenant(db)
    await asyncio.gather(
        *(
            services.events.record(
                "tenant_mismatch", tenant_id=tenant.id, origin=Origin(ip="192.0.2.44")
            )
            for _ in range(16)
        )
    )
    alerts = await services.alerts.search(tenant.id)
    assert 1 <= len(alerts) <= 2
    assert sum(a.occurrences for a in alerts) == 16 or len(alerts) == 2


async def test_a_rolled_back_event_raises_nothing(db) -> None:
    services = services_for(db)
    tenant = await make_tenant(db)
    with pytest.raises(RuntimeError):
        async with db.tenant_transaction(TenantContext(tenant.id)) as tx:
            await services.events.record_in(
                tx, "refresh_token_reuse", tenant_id=tenant.id, origin=Origin(ip="192.0.2.1")
            )
            raise RuntimeError("the change fails")
    assert await services.alerts.search(tenant.id) == []
    await services.events.record(
        "refresh_token_reuse", tenant_id=tenant.id, origin=Origin(ip="192.0.2.1")
    )
    [alert] = await services.alerts.search(tenant.id)
    assert (alert.rule, alert.occurrences, alert.threshold) == ("refresh_token_reuse", 1, 1)


async def test_each_tenant_reads_and_acknowledges_only_its_own(db) -> None:
    services = services_for(db)
    a, b = await make_tenant(db), await make_tenant(db)
    for tenant in (a, b):
        await services.events.record(
            "refresh_token_reuse", tenant_id=tenant.id, origin=Origin(ip="192.0.2.2")
        )
    [alert_a] = await services.alerts.search(a.id)
    [alert_b] = await services.alerts.search(b.id)
    assert alert_a.tenant_id == a.id
    assert alert_b.tenant_id == b.id
    with pytest.raises(NotFound):
        await services.alerts.acknowledge(b.id, alert_a.id, by=FIXTURES)
    assert (await services.alerts.search(a.id))[0].status == "open"
    await services.alerts.acknowledge(a.id, alert_a.id, by=FIXTURES)
    [seen] = await services.alerts.search(a.id, status="acknowledged")
    assert (seen.acknowledged_by, seen.acknowledged_at is not None) == (str(FIXTURES), True)
    assert await services.alerts.search(a.id, status="open") == []
    assert await services.alerts.open_count(a.id) == 0
    every = await services.alerts.search_every_tenant(rule="refresh_token_reuse", limit=500)
    assert {alert_a.id, alert_b.id} <= {x.id for x in every}


async def _alert_mail(db, subject_part: str, to: str) -> list:
    return [
        m for m in await newest(db, 2000) if subject_part in m["subject"] and m["to_address"] == to
    ]


async def test_a_raised_alert_is_mailed_once_to_admins_and_operators(
    control_app, db, operator
) -> None:
    # The control app's services know the operators' tenant (the fixture operator's).
    services = control_app.state.services
    tenant = await make_tenant(db)
    _, apps = await services.tenant_admin.ensure_tenant(
        tenant.slug, tenant.slug, "free", ["admin"], by=FIXTURES
    )
    boss = f"boss-{tenant.slug}@example.com"
    await services.users.add(tenant.id, apps["admin"].id, boss, "Boss", password_hash=None)
    await asyncio.gather(
        *(
            services.events.record(
                "app_mismatch", tenant_id=tenant.id, origin=Origin(ip="192.0.2.77")
            )
            for _ in range(12)
        )
    )
    raised = len(await services.alerts.search(tenant.id))
    assert len(await _alert_mail(db, "Repeated attempts", boss)) == raised
    copies = await _alert_mail(db, f"({tenant.slug})", operator.email)
    assert len(copies) == raised
    # Not probing: the tenant's administrators only.
    await services.events.record(
        "refresh_token_reuse", tenant_id=tenant.id, origin=Origin(ip="192.0.2.77")
    )
    assert len(await _alert_mail(db, "refresh token", boss)) == 1
    assert await _alert_mail(db, f"({tenant.slug})", operator.email) == copies


async def _away_from_a_window_edge(window_seconds: int, margin: float = 20) -> None:
    """Wait out the end of the current fixed window if it is near, so a short burst lands in
    one window (the database's clock is this machine's)."""
    left = window_seconds - time.time() % window_seconds
    if left < margin:
        await asyncio.sleep(left + 0.5)


async def test_resolving_goes_open_or_acknowledged_to_resolved_and_keeps_who(db) -> None:
    services = services_for(db)
    tenant = await make_tenant(db)
    other = await make_tenant(db)
    for ip in ("192.0.2.3", "192.0.2.4"):
        await services.events.record(
            "refresh_token_reuse", tenant_id=tenant.id, origin=Origin(ip=ip)
        )
    direct, acked = sorted(await services.alerts.search(tenant.id), key=lambda a: a.source)
    # Open → acknowledged → resolved.
    await services.alerts.acknowledge(tenant.id, acked.id, by=FIXTURES)
    with pytest.raises(NotFound):  # another tenant's alert does not exist
        await services.alerts.resolve(other.id, acked.id, by=FIXTURES)
    await services.alerts.resolve(tenant.id, acked.id, by=FIXTURES)
    # Open → resolved, without an acknowledgement.
    await services.alerts.resolve(tenant.id, direct.id, by=FIXTURES)
    resolved = {a.id: a for a in await services.alerts.search(tenant.id, status="resolved")}
    assert set(resolved) == {direct.id, acked.id}
    assert resolved[acked.id].acknowledged_by == str(FIXTURES)
    assert resolved[direct.id].acknowledged_by is None
    first = resolved[acked.id]
    assert (first.resolved_by, first.resolved_at is not None) == (str(FIXTURES), True)
    # Resolving again, or acknowledging a resolved alert, changes nothing.
    await services.alerts.resolve(tenant.id, acked.id, by=Actor("tests", "someone-else"))
    await services.alerts.acknowledge(tenant.id, direct.id, by=FIXTURES)
    again = {a.id: a for a in await services.alerts.search(tenant.id, status="resolved")}
    assert (again[acked.id].resolved_by, again[acked.id].resolved_at) == (
        first.resolved_by,
        first.resolved_at,
    )
    assert (again[direct.id].status, again[direct.id].acknowledged_by) == ("resolved", None)
    assert await services.alerts.open_count(tenant.id) == 0
    with pytest.raises(NotFound):
        await services.alerts.resolve(tenant.id, uuid7(), by=FIXTURES)


async def test_a_new_burst_after_resolution_raises_a_new_alert(db) -> None:
    services = services_for(db)
    tenant = await make_tenant(db)
    await _away_from_a_window_edge(600, margin=60)
    await _probe(services, tenant, "203.0.113.50", 6)
    [first] = await services.alerts.search(tenant.id)
    await services.alerts.resolve(tenant.id, first.id, by=FIXTURES)
    # The resolved alert's window is closed: what follows counts afresh, up to the threshold.
    await _probe(services, tenant, "203.0.113.50", 4)
    assert [a.id for a in await services.alerts.search(tenant.id)] == [first.id]
    await _probe(services, tenant, "203.0.113.50", 3)
    second, resolved = await services.alerts.search(tenant.id)
    assert resolved.id == first.id
    assert (resolved.status, resolved.occurrences) == ("resolved", 6)
    assert (second.status, second.occurrences, second.rule) == ("open", 7, "cross_scope_probing")
    assert second.window_start == resolved.resolved_at
    # Still one alert per window: the new one takes every further event of its window.
    await _probe(services, tenant, "203.0.113.50", 5)
    [latest, _] = await services.alerts.search(tenant.id)
    assert (latest.id, latest.occurrences) == (second.id, 12)
