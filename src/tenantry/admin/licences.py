"""One tenant's licences: the licences with their state, seat usage per app, issuing and
revoking (CSRF-checked forms), downloading the file, and verifying a pasted licence against
this installation's keys. Pages call the same services as the API and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.rendering import changes_on, render
from tenantry.kit.errors import InvalidInput, TenantryError
from tenantry.licensing.document import verify_licence
from tenantry.services import Services, ServicesDep

if TYPE_CHECKING:
    from tenantry.admin.session import Admin

router = APIRouter()
Text = Annotated[str, Form(max_length=2000)]


async def _page(
    request: Request,
    services: Services,
    admin: Admin,
    slug: str,
    status_code: int = 200,
    **ctx: object,
) -> HTMLResponse:
    licences = await services.licences.listing(slug)
    usage = await services.licences.usage(slug)
    tenant = await services.tenants.by_slug(slug)
    app_ids = tenant.app_ids if tenant else frozenset()
    slugs = services.apps.slugs_by_id
    return render(
        request,
        "licences.html",
        admin,
        status_code,
        slug=slug,
        licences=licences,
        usage=usage,
        apps=sorted(slugs[a] for a in app_ids if a in slugs and slugs[a] != "admin"),
        now=datetime.now(UTC),
        **ctx,
    )


_changed = changes_on("licences", _page)


@router.get("/tenants/{slug}/licences", response_class=HTMLResponse)
async def licences(
    request: Request, slug: str, admin: AdminDep, services: ServicesDep
) -> HTMLResponse:
    return await _page(request, services, admin, slug)


@router.post("/tenants/{slug}/licences", response_model=None)
async def issue(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    app: Annotated[str, Form(max_length=40)],
    plan: Annotated[str, Form(max_length=64)],
    seats: Annotated[str, Form(max_length=9)] = "",
    features: Text = "",
    limits: Text = "",
    days: Annotated[int, Form(ge=1, le=3660)] = 365,
    grace_days: Annotated[int, Form(ge=0, le=365)] = 14,
) -> Response:
    try:
        parsed_limits = _limits(limits)
        seat_count = int(seats) if seats.strip() else None
    except ValueError:
        return await _page(
            request, services, admin, slug, 422, error="seats and limits are whole numbers"
        )
    change = services.licences.issue(
        slug,
        app,
        plan=plan.strip(),
        seats=seat_count,
        features=features.replace(",", " ").split(),
        limits=parsed_limits,
        days=days,
        grace_days=grace_days,
        by=admin.principal.actor,
    )
    return await _changed(request, services, admin, slug, change, f"licence issued for {app}")


@router.post("/tenants/{slug}/licences/{licence_id}/revoke", response_model=None)
async def revoke(
    request: Request,
    slug: str,
    licence_id: UUID,
    admin: AdminPost,
    services: ServicesDep,
    reason: Annotated[str, Form(min_length=1, max_length=500)],
) -> Response:
    change = services.licences.revoke(licence_id, reason, admin.principal.actor, slug)
    return await _changed(request, services, admin, slug, change, "licence revoked")


@router.get("/tenants/{slug}/licences/{licence_id}/file", response_model=None)
async def download(
    slug: str, licence_id: UUID, _admin: AdminDep, services: ServicesDep
) -> Response:
    stored = await services.licences.show(licence_id, slug)
    return Response(
        stored.document,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="licence-{licence_id}.json"'},
    )


@router.post("/tenants/{slug}/licences/verify", response_class=HTMLResponse)
async def verify(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    document: Annotated[str, Form(min_length=1, max_length=64 * 1024)],
) -> HTMLResponse:
    try:
        licence = verify_licence(document.encode(), await services.licences.keys.public_keys())
    except TenantryError as exc:
        return await _page(request, services, admin, slug, 200, verdict=exc.message)
    verdict = (
        f"valid: licence {licence.id} for {licence.tenant_slug}/{licence.app}, plan "
        f"{licence.plan}, until {licence.valid_until:%Y-%m-%d} (+{licence.grace_days} days "
        f"grace), signed by {licence.kid}"
    )
    return await _page(request, services, admin, slug, verdict=verdict, verified=True)


def _limits(text: str) -> dict[str, int]:
    limits: dict[str, int] = {}
    for pair in text.replace(",", " ").split():
        name, _, value = pair.partition("=")
        if not name or not value:
            raise InvalidInput(f"limits are name=N, not {pair!r}")
        limits[name] = int(value)
    return limits
