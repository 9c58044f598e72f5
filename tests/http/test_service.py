"""Operational endpoints, host-based app routing and the OpenAPI document."""

from __future__ import annotations

from tenantry.web import create_app
from tests.support.accounts import signed_in
from tests.support.http import client_for
from tests.support.wiring import METRICS_TOKEN, api_settings


async def test_health_readiness_and_metrics(client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    await client.get("/v1/apps/thinktank/me")
    # Only the operator's token reads metrics; anyone else finds nothing there.
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}):
        hidden = await client.get("/metrics", headers=headers)
        assert hidden.status_code == 404
        assert "tenantry_" not in hidden.text
    metrics = (
        await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    ).text
    assert (
        'tenantry_http_requests_total{method="GET",route="/v1/apps/{app}/me",status="401"}'
        in metrics
    )
    assert "tenantry_auth_failures_total" in metrics
    assert 'tenantry_db_pool_connections{pool="runtime",state="size"}' in metrics


async def test_every_response_has_a_request_id(client) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"
    problem = await client.get("/v1/apps/thinktank/me")
    assert problem.json()["request_id"] == problem.headers["x-request-id"]


async def test_openapi_document(client) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert "/v1/apps/{app}/auth/login" in document["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_app_resolved_from_host(urls, db, tenant) -> None:
    app = create_app(api_settings(urls, base_domain="example.test"), database=db)
    async with app.router.lifespan_context(app):
        async with client_for(app, host="thinktank.example.test") as client:
            user = await signed_in(client, "thinktank", tenant, "host@example.com")
            me = await client.get("/v1/me", headers=user.auth)
            assert me.status_code == 200
            assert me.json()["email"] == "host@example.com"
        async with client_for(app, host="launchboard.example.test") as client:
            assert (await client.get("/v1/me", headers=user.auth)).json()["code"] == "app_mismatch"


async def test_oversized_bodies_are_refused_before_they_are_read(client) -> None:
    big = b'{"tenant": "acme", "email": "a@b.co", "password": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    declared = await client.post(
        "/v1/apps/thinktank/auth/login", content=big, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.json()["code"] == "payload_too_large"

    async def chunks():
        for _ in range(40):
            yield b"x" * 65536

    streamed = await client.post(
        "/v1/apps/thinktank/auth/login",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert streamed.status_code == 413
