"""The tenant context in one call: `/v1/apps/{app}/context` for app users."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from tenantry.http.auth import Requires, resolve_route_app
from tenantry.identity.principal import Principal, Scope
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import ServicesDep

router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["tenant context"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)


@router.get("/context")
async def tenant_context(
    principal: Annotated[Principal, Requires(Scope.PROFILE)], services: ServicesDep
) -> Response:
    """The caller's user, tenant, effective settings, enabled apps and effective flags, loaded in
    one database round trip and cached until a write affecting them commits."""
    checks = services.identity.credential_checks(principal)
    body = await services.context.load(principal, checks)
    return Response(json.dumps(body, default=str), media_type="application/json")
