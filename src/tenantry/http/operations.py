"""The operator's endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tenantry.kit import problems
from tenantry.operations.readiness import readiness
from tenantry.services import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready"}})
async def readyz(services: ServicesDep) -> JSONResponse:
    """The database answers, its schema is at the code's migration head and cache invalidation
    is heard; `dependencies` gives each one's state."""
    mail = "smtp" if services.settings.smtp_url else "outbox"
    state = await readiness(services.db, services.listener.state(), mail)
    body: dict[str, object] = {"status": state.status, "dependencies": state.dependencies}
    if state.current is not None:
        body["revision"] = state.current
    if state.status == "migrations_pending":
        body["head"] = state.head
    return JSONResponse(body, status_code=200 if state.ready else 503)


@router.get("/metrics", include_in_schema=False)
async def prometheus(request: Request, services: ServicesDep) -> Response:
    # Metrics name routes, tenants' traffic and pool pressure: for the operator only.
    expected = services.settings.metrics_token
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if not expected or not (
        scheme.lower() == "bearer"
        and hmac.compare_digest(presented.strip().encode(), expected.encode())
    ):
        return problems.problem(request, 404, "not_found", "not found")
    metrics = services.metrics
    for name, pool in (
        ("runtime", services.db.runtime_pool),
        ("platform", services.db.platform_pool),
    ):
        stats = pool.get_stats()
        for state, stat in (
            ("size", "pool_size"),
            ("available", "pool_available"),
            ("waiting", "requests_waiting"),
        ):
            metrics.pool_size.labels(pool=name, state=state).set(stats.get(stat, 0))
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
