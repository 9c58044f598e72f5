"""The admin UI's router: every area's pages under `/admin`, kept out of the API schema."""

from __future__ import annotations

from fastapi import APIRouter

from tenantry.admin import (
    access,
    acting,
    alerts,
    app_events,
    audit_log,
    auth,
    catalog,
    dashboard,
    delegations,
    departments,
    groups,
    licences,
    people,
    secrets,
    security,
    tenant_apps,
    tenants,
    webhooks,
)
from tenantry.admin.auth import LoginRequired

__all__ = ["LoginRequired", "router"]

router = APIRouter(include_in_schema=False)
for area in (
    auth,
    dashboard,
    tenants,
    tenant_apps,
    catalog,
    security,
    alerts,
    people,
    acting,
    audit_log,
    access,
    departments,
    groups,
    delegations,
    licences,
    secrets,
    webhooks,
    app_events,
):
    router.include_router(area.router, prefix="/admin")
