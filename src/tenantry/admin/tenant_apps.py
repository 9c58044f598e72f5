"""A tenant's apps in the admin UI: enable or disable, pin a version or follow the latest, and
edit the config; a refused change shows the tenant page again with the reason beside the app."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from tenantry.admin.auth import AdminPost
from tenantry.admin.rendering import changed
from tenantry.admin.tenants import _tenant_page
from tenantry.kit.errors import NotFound
from tenantry.registry.models import InvalidAppConfig
from tenantry.services import ServicesDep

router = APIRouter()
AppSlug = Annotated[str, Form(max_length=40)]
Reason = Annotated[str, Form(min_length=1, max_length=1000)]


def _config(raw: str) -> Any:  # noqa: ANN401 - a JSON value, checked by the service
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidAppConfig(f"$: not JSON ({exc})") from exc


@router.post("/tenants/{slug}/apps/{action}", response_model=None)
async def tenant_app(
    request: Request,
    slug: str,
    action: str,
    admin: AdminPost,
    services: ServicesDep,
    app: AppSlug,
    reason: Reason,
    version: Annotated[str, Form(max_length=100)] = "",
    config: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    apps, by = services.tenant_apps, admin.principal.actor

    async def change() -> object:
        if action == "enable":
            return await apps.enable(slug, app, by=by, reason=reason)
        if action == "disable":
            return await apps.disable(slug, app, by=by, reason=reason)
        if action == "pin":
            return await apps.pin(slug, app, version or None, by=by, reason=reason)
        if action == "config":
            return await apps.configure(slug, app, _config(config), by=by, reason=reason)
        raise NotFound("no such action")

    if action not in {"enable", "disable", "pin", "config"}:
        raise NotFound("no such action")
    return await changed(
        change(),
        done_url=f"/admin/tenants/{slug}",
        notice=f"{app}: {action} done",
        on_error=lambda exc: _tenant_page(
            request,
            services,
            admin,
            slug,
            status=exc.status,
            app_errors={app: exc.message},
            app_input={app: config} if action == "config" else {},
        ),
    )
