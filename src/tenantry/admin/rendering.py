"""How admin pages answer: one template renderer, redirects that carry a notice, a change made
or refused with its reason, form values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from tenantry.kit.errors import TenantryError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from fastapi import Request
    from fastapi.responses import Response

    from tenantry.admin.session import Admin
    from tenantry.services import Services

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
PAGE = 25


def render(
    request: Request,
    name: str,
    admin: Admin | None,
    status_code: int = 200,
    **context: Any,  # noqa: ANN401 - template values of every kind
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        # `back()` carries a notice in the query; every page shows it.
        {
            "admin": admin,
            "path": request.url.path,
            "notice": request.query_params.get("notice", ""),
            **context,
        },
        status_code=status_code,
    )


def back(url: str, notice: str = "", **query: str) -> RedirectResponse:
    """Back to a page after a change (303: the browser follows with a GET), with a notice."""
    values = {**query, "notice": notice} if notice else query
    return RedirectResponse(f"{url}?{urlencode(values)}" if values else url, status_code=303)


async def changed(
    change: Awaitable[object],
    *,
    done_url: str,
    notice: str,
    on_error: Callable[[TenantryError], Awaitable[Response]],
    **query: str,
) -> Response:
    """Make a change, then `back()` to `done_url` with the notice; a refused change answers
    `on_error` instead (the page again, with the reason and the error's status)."""
    try:
        await change
    except TenantryError as exc:
        return await on_error(exc)
    return back(done_url, notice, **query)


class TenantPage(Protocol):
    """A tenant's admin page: `_page(request, services, admin, slug, status_code, **ctx)`."""

    def __call__(
        self,
        request: Request,
        services: Services,
        admin: Admin,
        slug: str,
        status_code: int = 200,
        **ctx: object,
    ) -> Awaitable[HTMLResponse]: ...


class PageChange(Protocol):
    def __call__(
        self,
        request: Request,
        services: Services,
        admin: Admin,
        slug: str,
        change: Awaitable[object],
        notice: str,
    ) -> Awaitable[Response]: ...


def changes_on(path: str, page: TenantPage) -> PageChange:
    """`changed` for the tenant page at /admin/tenants/{slug}/{path}: back to it with the
    notice, or the page again with the reason."""

    async def change_here(
        request: Request,
        services: Services,
        admin: Admin,
        slug: str,
        change: Awaitable[object],
        notice: str,
    ) -> Response:
        return await changed(
            change,
            done_url=f"/admin/tenants/{slug}/{path}",
            notice=notice,
            on_error=lambda exc: page(
                request, services, admin, slug, exc.status, error=exc.message
            ),
        )

    return change_here


def parse_value(raw: str) -> Any:  # noqa: ANN401 - form text to a JSON value
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw
