"""Tenants: the searchable list, and one tenant's page with its lifecycle, settings, flag
overrides and domains. Every change is made by the same services as the API, with the signed-in
administrator as the actor; a refused change shows the page again with the reason beside it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.rendering import PAGE, back, changed, parse_value, render
from tenantry.admin.session import Admin
from tenantry.kit.errors import NotFound, TenantryError
from tenantry.services import Services, ServicesDep
from tenantry.settings import registry
from tenantry.tenants.lifecycle import TRANSITIONS

router = APIRouter()
STATUSES = ["pending", "active", "suspended", "deprovisioned", "purged"]


@router.get("/tenants", response_class=HTMLResponse)
async def tenants(
    request: Request,
    admin: AdminDep,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=100)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    plan: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    items, total = await services.tenant_admin.search(
        query=q or None,
        status=status or None,
        plan=plan or None,
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    return render(
        request,
        "tenants.html",
        admin,
        items=items,
        total=total,
        q=q,
        status=status,
        plan=plan,
        page=page,
        pages=max(1, -(-total // PAGE)),
        statuses=STATUSES,
    )


async def _tenant_page(
    request: Request,
    services: Services,
    admin: Admin,
    slug: str,
    status: int = 200,
    **refusal: Any,  # noqa: ANN401 - a refused form's messages and input, for the template
) -> HTMLResponse:
    detail = await services.tenant_admin.detail(slug)
    history_flag = request.query_params.get("history")
    history = await services.flags.versions(slug, history_flag) if history_flag else []
    tenant_status = detail["tenant"].status
    return render(
        request,
        "tenant.html",
        admin,
        status_code=status,
        detail=detail,
        settings=await services.settings_admin.effective(slug),
        definitions=registry.DEFINITIONS,
        flags=await services.flags.all(),
        overrides=await services.flags.overrides_for_tenant(slug),
        history=history,
        history_flag=history_flag,
        actions=[a for a, (allowed, _) in TRANSITIONS.items() if tenant_status in allowed],
        module_pages=request.app.state.tenant_pages,
        **await _apps_panel(services, slug),
        **refusal,
    )


async def _apps_panel(services: Services, slug: str) -> dict[str, Any]:
    """The tenant's apps with the versions each may be pinned to, and the apps it could add."""
    tenant_apps = await services.tenant_apps.of_tenant(slug)
    versions = {a.slug: await services.registry.versions(a.slug) for a in tenant_apps}
    held = {a.slug for a in tenant_apps}
    return {
        "tenant_apps": tenant_apps,
        "app_versions": {app: [v.version for v in found] for app, found in versions.items()},
        "addable_apps": sorted(a.slug for a in services.apps.all() if a.slug not in held),
    }


@router.get("/tenants/{slug}", response_class=HTMLResponse)
async def tenant(
    request: Request, slug: str, admin: AdminDep, services: ServicesDep
) -> HTMLResponse:
    return await _tenant_page(request, services, admin, slug)


@router.post("/tenants/{slug}/lifecycle", response_model=None)
async def tenant_lifecycle(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    action: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        changed = await services.tenant_admin.transition(
            slug, action, reason=reason, by=admin.principal.actor
        )
    except TenantryError as exc:
        return await _tenant_page(
            request, services, admin, slug, status=exc.status, lifecycle_error=exc.message
        )
    return back(f"/admin/tenants/{slug}", f"{slug} is now {changed.status}")


@router.post("/tenants/{slug}/settings/{key}", response_model=None)
async def tenant_setting(
    request: Request,
    slug: str,
    key: str,
    admin: AdminPost,
    services: ServicesDep,
    value: Annotated[str, Form(max_length=10_000)],
    reason: Annotated[str, Form(max_length=1000)] = "changed in the admin UI",
) -> Response:
    change = services.settings_admin.set(
        slug,
        key,
        parse_value(value),
        by=admin.principal.actor,
        reason=reason or "changed in the admin UI",
    )
    return await changed(
        change,
        done_url=f"/admin/tenants/{slug}",
        notice=f"{key} saved",
        on_error=lambda exc: _tenant_page(
            request,
            services,
            admin,
            slug,
            status=exc.status,
            setting_errors={key: exc.message},
            setting_input={key: value},
        ),
    )


@router.post("/tenants/{slug}/flags/{key}", response_model=None)
async def tenant_flag(
    request: Request,
    slug: str,
    key: str,
    admin: AdminPost,
    services: ServicesDep,
    value: Annotated[str, Form(max_length=10_000)],
    reason: Annotated[str, Form(min_length=1, max_length=1000)],
    app: Annotated[str, Form(max_length=40)] = "",
    rollout_percent: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    try:
        percent = int(rollout_percent) if rollout_percent.strip() else None
        await services.flags.set_override(
            slug,
            key,
            parse_value(value),
            app_slug=app or None,
            rollout_percent=percent,
            by=admin.principal.actor,
            reason=reason,
        )
    except (TenantryError, ValueError) as exc:
        message = exc.message if isinstance(exc, TenantryError) else "rollout must be a number"
        return await _tenant_page(
            request, services, admin, slug, status=422, flag_errors={key: message}
        )
    return back(f"/admin/tenants/{slug}", f"{key} overridden", history=key)


@router.post("/tenants/{slug}/flags/{key}/rollback", response_model=None)
async def tenant_flag_rollback(
    slug: str,
    key: str,
    admin: AdminPost,
    services: ServicesDep,
    version: Annotated[int, Form(ge=1)],
    reason: Annotated[str, Form(max_length=1000)] = "rolled back in the admin UI",
) -> RedirectResponse:
    await services.flags.rollback(slug, key, version, by=admin.principal.actor, reason=reason)
    return back(f"/admin/tenants/{slug}", history=key)


@router.post("/tenants/{slug}/domains", response_model=None)
async def tenant_domain_add(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    domain: Annotated[str, Form(max_length=253)],
) -> Response:
    try:
        record = await services.domains.add(slug, domain, by=admin.principal.actor)
    except TenantryError as exc:
        return await _tenant_page(
            request, services, admin, slug, status=exc.status, domain_error=exc.message
        )
    return back(f"/admin/tenants/{slug}", f"publish TXT {record['record']} = {record['value']}")


@router.post("/tenants/{slug}/domains/{domain}/{action}", response_model=None)
async def tenant_domain_action(
    request: Request, slug: str, domain: str, action: str, admin: AdminPost, services: ServicesDep
) -> Response:
    operations = {
        "verify": services.domains.verify,
        "primary": services.domains.set_primary,
        "remove": services.domains.remove,
    }
    if action not in operations:
        raise NotFound("no such action")
    return await changed(
        operations[action](slug, domain, by=admin.principal.actor),
        done_url=f"/admin/tenants/{slug}",
        notice=f"{domain}: {action} done",
        on_error=lambda exc: _tenant_page(
            request, services, admin, slug, status=exc.status, domain_error=exc.message
        ),
    )
