"""Deprecated endpoints announce themselves in headers and report their callers per tenant."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter

from tenantry.http.auth import Requires
from tenantry.http.deprecation import deprecated_endpoint
from tenantry.identity.principal import Principal, Scope
from tenantry.web import create_app
from tests.support.accounts import make_tenant, signed_in
from tests.support.http import client_for
from tests.support.wiring import PLATFORM, api_settings


async def test_deprecated_endpoints_report_their_users(urls, db, operator) -> None:
    """A library user's own endpoint, marked deprecated, counts its callers per tenant.

    (FastAPI resolves the route's annotations from this module's globals, hence the imports
    at the top.)"""
    legacy = APIRouter()

    @legacy.get(
        "/v1/apps/{app}/legacy-profile",
        dependencies=[
            deprecated_endpoint("GET legacy-profile", sunset="Wed, 01 Jul 2026 00:00:00 GMT")
        ],
    )
    async def legacy_profile(
        principal: Annotated[Principal, Requires(Scope.PROFILE)],
    ) -> dict[str, str]:
        return {"user": str(principal.app_user_id)}

    app = create_app(api_settings(urls, platform_tenant=PLATFORM), database=db)
    app.include_router(legacy)
    async with app.router.lifespan_context(app), client_for(app) as client:
        tenant = await make_tenant(db, "thinktank")
        user = await signed_in(client, "thinktank", tenant, "old-client@example.com")
        response = await client.get("/v1/apps/thinktank/legacy-profile", headers=user.auth)
        assert response.status_code == 200, response.text
        assert response.headers["deprecation"] == "true"
        assert response.headers["sunset"].startswith("Wed, 01 Jul 2026")
        for _ in range(100):
            report = (await client.get("/v1/platform/deprecations", headers=operator.auth)).json()
            usage = [
                r
                for r in report
                if r["name"] == "GET legacy-profile" and r["tenant"] == tenant.slug
            ]
            if usage:
                break
            await asyncio.sleep(0.02)
        assert [(u["kind"], u["uses"]) for u in usage] == [("endpoint", 1)]
