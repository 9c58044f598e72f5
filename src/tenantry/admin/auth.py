"""Who is signed in to the admin UI: the session cookie, CSRF tokens, sign-in with its second
factor, and sign-out. Only admin-app users of the operators' tenant get in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tenantry.admin import session
from tenantry.admin.overview import ConsoleDep
from tenantry.admin.rendering import render
from tenantry.admin.session import Admin
from tenantry.http.auth import origin
from tenantry.identity.principal import (
    ADMIN_APP,
    Principal,
)
from tenantry.kit.errors import Forbidden, MfaRequired, TenantryError
from tenantry.services import Services, ServicesDep

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from tenantry.identity.models import TokenPair
    from tenantry.security_events.service import Origin

router = APIRouter()
BAD_FORM_TOKEN = "the form token is missing or wrong; reload the page and try again"


class LoginRequired(Exception):
    """Raised by admin pages without a valid session; answered with a redirect or a 404."""


async def _admin(request: Request, services: ServicesDep, console: ConsoleDep) -> Admin:
    session_id = session.session_from_cookie(services.db, request.cookies.get(session.COOKIE))
    signed_in = await console.session(session_id) if session_id is not None else None
    if signed_in is None:
        raise LoginRequired
    # Only the operators' tenant signs in here; credential changes happen through the API.
    principal = Principal.of_session(
        signed_in.tenant_id,
        signed_in.app_id,
        ADMIN_APP,
        signed_in.app_user_id,
        signed_in.session_id,
        platform=True,
        recent=False,
    )
    csrf = session.csrf_token(services.db, signed_in.session_id)
    running = tuple(i for i in await services.acting.started_by(principal) if i.active)
    return Admin(principal, signed_in.session_id, signed_in.email, csrf, running)


AdminDep = Annotated[Admin, Depends(_admin)]


async def _admin_post(
    services: ServicesDep, admin: AdminDep, csrf: Annotated[str, Form()] = ""
) -> Admin:
    """A signed-in administrator whose form carries the session's CSRF token."""
    if not session.csrf_valid(services.db, admin.session_id, csrf):
        raise Forbidden(BAD_FORM_TOKEN)
    return admin


AdminPost = Annotated[Admin, Depends(_admin_post)]


async def _login_csrf(request: Request, csrf: Annotated[str, Form()] = "") -> str:
    """The login forms' double-submit token: the form field must equal the cookie."""
    cookie = request.cookies.get(session.LOGIN_CSRF_COOKIE, "")
    if not (cookie and session.same_token(csrf, cookie)):
        raise Forbidden(BAD_FORM_TOKEN)
    return csrf


LoginCsrf = Annotated[str, Depends(_login_csrf)]


def _set_cookie(
    request: Request, services: Services, response: Response, name: str, value: str, max_age: int
) -> None:
    secure = request.url.scheme == "https" or services.settings.public_url.startswith("https")
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/admin"
    )


def _client(request: Request) -> tuple[Origin, str | None]:
    return origin(request), request.headers.get("user-agent")


async def _sign_in(
    request: Request,
    services: Services,
    attempt: Awaitable[TokenPair],
    *,
    csrf: str,
    retry: str,
    **form: str,
) -> Response:
    """Both sign-in steps end here: signed in, asked for the second factor, or shown the
    `retry` form again with the reason and what was typed."""
    try:
        pair = await attempt
    except MfaRequired as challenge:
        return render(request, "mfa.html", None, csrf=csrf, mfa_token=challenge.mfa_token)
    except TenantryError as exc:
        return render(
            request, retry, None, status_code=exc.status, csrf=csrf, error=exc.message, **form
        )
    response = RedirectResponse("/admin", status_code=303)
    cookie = session.cookie_value(services.db, pair.session_id)
    _set_cookie(
        request, services, response, session.COOKIE, cookie, services.settings.session_ttl_seconds
    )
    response.delete_cookie(session.LOGIN_CSRF_COOKIE, path="/admin")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, services: ServicesDep, error: str = "") -> HTMLResponse:
    nonce = session.new_login_nonce()
    response = render(request, "login.html", None, csrf=nonce, error=error)
    _set_cookie(request, services, response, session.LOGIN_CSRF_COOKIE, nonce, max_age=1800)
    return response


@router.post("/login", response_model=None)
async def login(
    request: Request,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=256)],
    csrf: LoginCsrf,
) -> Response:
    attempt = services.identity.login(
        services.apps.by_slug(ADMIN_APP),
        services.settings.platform_tenant,
        email,
        password,
        *_client(request),
    )
    return await _sign_in(request, services, attempt, csrf=csrf, retry="login.html", email=email)


@router.post("/login/mfa", response_model=None)
async def login_mfa(
    request: Request,
    services: ServicesDep,
    mfa_token: Annotated[str, Form(max_length=4096)],
    code: Annotated[str, Form(max_length=32)],
    csrf: LoginCsrf,
) -> Response:
    attempt = services.identity.complete_mfa(
        services.apps.by_slug(ADMIN_APP), mfa_token, code, *_client(request)
    )
    return await _sign_in(
        request, services, attempt, csrf=csrf, retry="mfa.html", mfa_token=mfa_token
    )


@router.post("/logout")
async def logout(services: ServicesDep, admin: AdminPost) -> RedirectResponse:
    await services.identity.logout(admin.principal)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(session.COOKIE, path="/admin")
    return response
