"""A tenant's events in the admin UI, over HTTP: the stream newest first, an event with its
deliveries, and dead letters replayed with the session's CSRF token (refused without it)."""

from __future__ import annotations

import psycopg
import pytest

from tenantry.kit.db import SET_CONTEXT
from tenantry.kit.ids import uuid7
from tests.admin.stage import signed_in_client
from tests.support.database import signer_for


@pytest.fixture
def admin(stage):
    client, csrf = signed_in_client(stage)
    yield client, csrf
    client.close()


def _dead_letter(urls, slug: str) -> str:
    """A subscription, an event of thinktank's and its delivery dead after every attempt, as
    the worker would leave it (on the platform path: the fan-out runs in the writer's context)."""
    event_id = uuid7()
    with psycopg.connect(urls.platform) as conn:
        conn.execute(SET_CONTEXT, [signer_for(urls.admin).sign_platform()])
        tenant_id, app_id = conn.execute(
            """SELECT t.id, a.id FROM tenantry.tenants t, tenantry.apps a
                WHERE t.slug = %s AND a.slug = 'thinktank'""",
            [slug],
        ).fetchone()
        conn.execute(
            """INSERT INTO tenantry.event_subscriptions
                      (tenant_id, id, consumer_app_id, consumer, types)
               VALUES (%s, %s, %s, 'ui.indexer', '{thinktank.*}')
               ON CONFLICT DO NOTHING""",
            [tenant_id, uuid7(), app_id],
        )
        conn.execute(
            """INSERT INTO tenantry.events (tenant_id, app_id, id, type, key, payload)
               VALUES (%s, %s, %s, 'thinktank.workspace.created', 'w-9',
                       '{"workspace_id": "marker-payload"}')""",
            [tenant_id, app_id, event_id],
        )
        conn.execute(
            """UPDATE tenantry.event_deliveries
                  SET status = 'dead', attempts = 8, last_error = 'HTTP 503 from upstream',
                      last_status_code = 503, last_latency_ms = 41
                WHERE event_id = %s""",
            [event_id],
        )
    return str(event_id)


def test_stream_event_and_dead_letter_replay(stage, admin, urls) -> None:
    client, csrf = admin
    base = f"/admin/tenants/{stage.tenant}"
    assert f'href="{base}/events"' in client.get(base).text
    event_id = _dead_letter(urls, stage.tenant)
    page = client.get(f"{base}/events")
    assert page.status_code == 200, page.text
    assert event_id in page.text
    assert "HTTP 503 from upstream" in page.text
    detail = client.get(f"{base}/events/{event_id}")
    assert detail.status_code == 200, detail.text
    assert "marker-payload" in detail.text
    assert "41 ms" in detail.text
    assert "ui.indexer" in detail.text

    form = {"event_id": event_id, "consumer": "ui.indexer", "dead_only": "true"}
    assert client.post(f"{base}/events/replay", data=form).status_code == 403
    replayed = client.post(f"{base}/events/replay", data={**form, "csrf": csrf})
    assert replayed.status_code == 303, replayed.text
    page = client.get(replayed.headers["location"]).text
    assert "deliveries queued again" in page
    assert "No dead letters." in page
    assert client.get(f"{base}/events/{uuid7()}").status_code == 404
