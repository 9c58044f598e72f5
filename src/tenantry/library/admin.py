"""Admin UI pages of a module: served under the admin UI's sign-in, in its look.

    router = APIRouter(include_in_schema=False)   # Module(admin_routers=lambda: (router,))
    PAGES = AdminTemplates(Path(__file__).parent / "templates")

    @router.get("/admin/tenants/{slug}/notes", response_class=HTMLResponse)
    async def notes(request: Request, slug: str, operator: Operator) -> HTMLResponse:
        tenant = await admin_tenant(request, slug)
        async with database(request).tenant_transaction(
            TenantContext(tenant.id, cross_app=True, read_only=True)
        ) as tx:
            ...
        return PAGES.render(request, "notes.html", operator, tenant=tenant, ...)

- `Operator`: the signed-in platform administrator; without a session, a browser is sent to
  the sign-in page and anything else gets a 404. `OperatorPost` also checks the form's `csrf`
  field (put `{{ admin.csrf }}` in a hidden input of every form that changes something).
- `AdminTemplates`: your template folder first, then the admin UI's, so a page can
  `{% extends "base.html" %}` and fill `{% block title %}` and `{% block content %}`. The admin
  UI's Content-Security-Policy allows no inline script or style: draw with SVG attributes and
  the classes of /admin/static/admin.css.
- `admin_tenant`: the tenant named in the path, or a 404.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi.templating import Jinja2Templates

from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.session import Admin
from tenantry.kit.errors import NotFound
from tenantry.library.tenants import TenantRef

if TYPE_CHECKING:
    from fastapi import Request
    from fastapi.responses import HTMLResponse

    from tenantry.services import Services

__all__ = ["Admin", "AdminTemplates", "Operator", "OperatorPost", "admin_tenant"]

Operator = AdminDep
OperatorPost = AdminPost
ADMIN_TEMPLATES = Path(__file__).resolve().parent.parent / "admin" / "templates"


class AdminTemplates:
    """A module's templates, rendered as the admin UI renders its own pages."""

    def __init__(self, folder: Path) -> None:
        self._templates = Jinja2Templates(directory=[folder, ADMIN_TEMPLATES])

    def render(
        self,
        request: Request,
        name: str,
        operator: Admin,
        status_code: int = 200,
        **context: Any,  # noqa: ANN401 - template values of every kind
    ) -> HTMLResponse:
        return self._templates.TemplateResponse(
            request,
            name,
            # What base.html reads on every page: who is signed in, where, and a notice.
            {
                "admin": operator,
                "path": request.url.path,
                "notice": request.query_params.get("notice", ""),
                **context,
            },
            status_code=status_code,
        )


async def admin_tenant(request: Request, slug: str) -> TenantRef:
    """The tenant `slug` with its enabled apps, or NotFound (a control-plane read)."""
    services: Services = request.app.state.services
    tenant = await services.tenants.by_slug(slug)
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    names = services.apps.slugs_by_id
    apps = {names[a]: a for a in tenant.app_ids if a in names}
    return TenantRef(tenant.id, tenant.slug, tenant.status, apps)
