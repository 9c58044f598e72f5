"""Admin pages. Every action goes through the same services as the API, with the signed-in
platform administrator as the actor, and every state-changing form carries a CSRF token."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tenantry.admin import repository, session
from tenantry.http.auth import origin
from tenantry.identity.principal import Credential, Principal, session_scopes
from tenantry.isolation.audit import audit
from tenantry.isolation.roles import Roles
from tenantry.kit import dsn
from tenantry.kit.errors import Forbidden, MfaRequired, NotFound, TenantryError
from tenantry.kit.migrate import current_revision, head_revision
from tenantry.services import Services
from tenantry.settings import registry
from tenantry.tenants import repository as tenants_repo
from tenantry.tenants.lifecycle import TRANSITIONS

router = APIRouter(prefix="/admin", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
PAGE = 25
BAD_FORM_TOKEN = "the form token is missing or wrong; reload the page and try again"


class LoginRequired(Exception):
    """Raised by admin pages without a valid session; answered with a redirect or a 404."""


@dataclass(frozen=True)
class Admin:
    principal: Principal
    email: str
    csrf: str

    @property
    def actor(self) -> str:
        return f"admin-ui:{self.email}"


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _admin(request: Request) -> Admin:
    services = _services(request)
    session_id = session.session_from_cookie(services.db, request.cookies.get(session.COOKIE))
    row = None
    if session_id is not None:
        async with services.db.platform_transaction() as tx:
            row = await repository.admin_session(tx, session_id, services.settings.platform_tenant)
    if row is None:
        raise LoginRequired
    principal = Principal(
        tenant_id=row["tenant_id"],
        app_id=row["app_id"],
        app_slug="admin",
        app_user_id=row["app_user_id"],
        credential=Credential.ACCESS_TOKEN,
        scopes=session_scopes("admin", platform=True, recent=False),
        session_id=row["session_id"],
    )
    return Admin(principal, row["email"], session.csrf_token(services.db, row["session_id"]))


AdminDep = Annotated[Admin, Depends(_admin)]


async def _admin_post(
    request: Request, admin: AdminDep, csrf: Annotated[str, Form()] = ""
) -> Admin:
    if not session.csrf_valid(_services(request).db, admin.principal.session_id, csrf):  # type: ignore[arg-type]
        raise Forbidden(BAD_FORM_TOKEN)
    return admin


AdminPost = Annotated[Admin, Depends(_admin_post)]


def render(
    request: Request,
    name: str,
    admin: Admin | None,
    status_code: int = 200,
    **context: Any,  # noqa: ANN401
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"admin": admin, "path": request.url.path, **context},
        status_code=status_code,
    )


def back(url: str, message: str = "") -> RedirectResponse:
    target = f"{url}?{_qs(notice=message)}" if message else url
    return RedirectResponse(target, status_code=303)


def _qs(**values: str) -> str:
    from urllib.parse import urlencode  # noqa: PLC0415

    return urlencode(values)


def parse_value(raw: str) -> Any:  # noqa: ANN401 - form text to a JSON value
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw


# Sign-in ----------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, error: str = "") -> HTMLResponse:
    nonce = session.new_login_nonce()
    response = render(request, "login.html", None, csrf=nonce, error=error)
    _set_cookie(request, response, session.LOGIN_CSRF_COOKIE, nonce, max_age=1800)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    secure = request.url.scheme == "https" or _services(request).settings.public_url.startswith(
        "https"
    )
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/admin"
    )


async def _login_csrf(request: Request, csrf: Annotated[str, Form()] = "") -> str:
    """The login forms' double-submit token: the form field must equal the cookie."""
    cookie = request.cookies.get(session.LOGIN_CSRF_COOKIE, "")
    if not (cookie and session.same_token(csrf, cookie)):
        raise Forbidden(BAD_FORM_TOKEN)
    return csrf


LoginCsrf = Annotated[str, Depends(_login_csrf)]


async def _signed_in(request: Request, session_id: UUID) -> RedirectResponse:
    response = RedirectResponse("/admin", status_code=303)
    services = _services(request)
    _set_cookie(
        request,
        response,
        session.COOKIE,
        session.cookie_value(services.db, session_id),
        max_age=services.settings.session_ttl_seconds,
    )
    response.delete_cookie(session.LOGIN_CSRF_COOKIE, path="/admin")
    return response


@router.post("/login", response_model=None)
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=256)],
    csrf: LoginCsrf,
) -> Response:
    services = _services(request)
    try:
        pair = await services.identity.login(
            services.apps.by_slug("admin"),
            services.settings.platform_tenant,
            email,
            password,
            origin(request),
            request.headers.get("user-agent"),
        )
    except MfaRequired as challenge:
        return render(request, "mfa.html", None, csrf=csrf, mfa_token=challenge.mfa_token)
    except TenantryError as exc:
        return render(
            request,
            "login.html",
            None,
            status_code=exc.status,
            csrf=csrf,
            error=exc.message,
            email=email,
        )
    return await _signed_in(request, pair.session_id)


@router.post("/login/mfa", response_model=None)
async def login_mfa(
    request: Request,
    mfa_token: Annotated[str, Form(max_length=4096)],
    code: Annotated[str, Form(max_length=32)],
    csrf: LoginCsrf,
) -> Response:
    services = _services(request)
    try:
        pair = await services.identity.complete_mfa(
            services.apps.by_slug("admin"),
            mfa_token,
            code,
            origin(request),
            request.headers.get("user-agent"),
        )
    except TenantryError as exc:
        return render(
            request,
            "mfa.html",
            None,
            status_code=exc.status,
            csrf=csrf,
            mfa_token=mfa_token,
            error=exc.message,
        )
    return await _signed_in(request, pair.session_id)


@router.post("/logout")
async def logout(request: Request, admin: AdminPost) -> RedirectResponse:
    await _services(request).identity.logout(admin.principal)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(session.COOKIE, path="/admin")
    return response


# Pages ------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def dashboard(request: Request, admin: AdminDep) -> HTMLResponse:
    services = _services(request)
    async with services.db.platform_transaction() as tx:
        by_status = await repository.tenants_by_status(tx)
        per_day = await repository.events_per_day(tx, 14)
        recent = await repository.search_events(
            tx, tenant=None, app=None, kind=None, since=None, until=None, limit=8, offset=0
        )
        revision = await current_revision(tx)
        version = await tx.fetch_one("SELECT current_setting('server_version') AS v")
    findings = await asyncio.to_thread(
        audit, dsn.platform_url(services.settings), Roles(services.settings.role_prefix)
    )
    health = {
        "server_version": version["v"] if version else "?",
        "revision": revision,
        "migrations_current": revision == head_revision(),
        "pools": {
            name: pool.get_stats()
            for name, pool in (
                ("runtime", services.db.runtime_pool),
                ("platform", services.db.platform_pool),
            )
        },
        "findings": len(findings),
    }
    return render(
        request,
        "dashboard.html",
        admin,
        by_status=by_status,
        per_day=per_day,
        recent=recent,
        health=health,
    )


@router.get("/tenants", response_class=HTMLResponse)
async def tenants(
    request: Request,
    admin: AdminDep,
    q: Annotated[str, Query(max_length=100)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    plan: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    items, total = await _services(request).tenant_admin.search(
        query=q or None,
        status=status or None,
        plan=plan or None,
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    pages = max(1, -(-total // PAGE))
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
        pages=pages,
        statuses=["pending", "active", "suspended", "deprovisioned", "purged"],
    )


async def _tenant_page(
    request: Request,
    admin: Admin,
    slug: str,
    status: int = 200,
    **extra: Any,  # noqa: ANN401
) -> HTMLResponse:
    services = _services(request)
    detail = await services.tenant_admin.detail(slug)
    settings = await services.settings_admin.effective(slug)
    flags = await services.flags.all()
    async with services.db.platform_transaction() as tx:
        from tenantry.flags import repository as flags_repo  # noqa: PLC0415

        overrides = await flags_repo.overrides_for_tenant(tx, detail["tenant"].id)
    flag = request.query_params.get("history")
    history = await services.flags.versions(slug, flag) if flag else []
    actions = [a for a, (allowed, _) in TRANSITIONS.items() if detail["tenant"].status in allowed]
    return render(
        request,
        "tenant.html",
        admin,
        status_code=status,
        detail=detail,
        settings=settings,
        definitions=registry.DEFINITIONS,
        flags=flags,
        overrides=overrides,
        history=history,
        history_flag=flag,
        actions=actions,
        notice=request.query_params.get("notice", ""),
        **extra,
    )


@router.get("/tenants/{slug}", response_class=HTMLResponse)
async def tenant(request: Request, slug: str, admin: AdminDep) -> HTMLResponse:
    return await _tenant_page(request, admin, slug)


@router.post("/tenants/{slug}/lifecycle", response_model=None)
async def tenant_lifecycle(
    request: Request,
    slug: str,
    admin: AdminPost,
    action: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        tenant = await _services(request).tenant_admin.transition(
            slug, action, reason=reason, actor=admin.actor
        )
    except TenantryError as exc:
        return await _tenant_page(
            request, admin, slug, status=exc.status, lifecycle_error=exc.message
        )
    return back(f"/admin/tenants/{slug}", f"{slug} is now {tenant.status}")


@router.post("/tenants/{slug}/settings/{key}", response_model=None)
async def tenant_setting(
    request: Request,
    slug: str,
    key: str,
    admin: AdminPost,
    value: Annotated[str, Form(max_length=10_000)],
    reason: Annotated[str, Form(max_length=1000)] = "changed in the admin UI",
) -> Response:
    try:
        await _services(request).settings_admin.set(
            slug,
            key,
            parse_value(value),
            actor=admin.actor,
            reason=reason or "changed in the admin UI",
        )
    except TenantryError as exc:
        return await _tenant_page(
            request,
            admin,
            slug,
            status=exc.status,
            setting_errors={key: exc.message},
            setting_input={key: value},
        )
    return back(f"/admin/tenants/{slug}", f"{key} saved")


@router.post("/tenants/{slug}/flags/{key}", response_model=None)
async def tenant_flag(
    request: Request,
    slug: str,
    key: str,
    admin: AdminPost,
    value: Annotated[str, Form(max_length=10_000)],
    reason: Annotated[str, Form(min_length=1, max_length=1000)],
    app: Annotated[str, Form(max_length=40)] = "",
    rollout_percent: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    try:
        percent = int(rollout_percent) if rollout_percent.strip() else None
        await _services(request).flags.set_override(
            slug,
            key,
            parse_value(value),
            app_slug=app or None,
            rollout_percent=percent,
            actor=admin.actor,
            reason=reason,
        )
    except (TenantryError, ValueError) as exc:
        message = exc.message if isinstance(exc, TenantryError) else "rollout must be a number"
        return await _tenant_page(request, admin, slug, status=422, flag_errors={key: message})
    target = f"/admin/tenants/{slug}?{_qs(history=key, notice=f'{key} overridden')}"
    return RedirectResponse(target, status_code=303)


@router.post("/tenants/{slug}/flags/{key}/rollback", response_model=None)
async def tenant_flag_rollback(
    request: Request,
    slug: str,
    key: str,
    admin: AdminPost,
    version: Annotated[int, Form(ge=1)],
    reason: Annotated[str, Form(max_length=1000)] = "rolled back in the admin UI",
) -> Response:
    await _services(request).flags.rollback(slug, key, version, actor=admin.actor, reason=reason)
    return RedirectResponse(f"/admin/tenants/{slug}?{_qs(history=key)}", status_code=303)


@router.post("/tenants/{slug}/domains", response_model=None)
async def tenant_domain_add(
    request: Request, slug: str, admin: AdminPost, domain: Annotated[str, Form(max_length=253)]
) -> Response:
    try:
        record = await _services(request).domains.add(slug, domain, actor=admin.actor)
    except TenantryError as exc:
        return await _tenant_page(request, admin, slug, status=exc.status, domain_error=exc.message)
    return back(f"/admin/tenants/{slug}", f"publish TXT {record['record']} = {record['value']}")


@router.post("/tenants/{slug}/domains/{domain}/{action}", response_model=None)
async def tenant_domain_action(
    request: Request, slug: str, domain: str, action: str, admin: AdminPost
) -> Response:
    domains = _services(request).domains
    operations = {
        "verify": domains.verify,
        "primary": domains.set_primary,
        "remove": domains.remove,
    }
    if action not in operations:
        raise NotFound("no such action")
    try:
        await operations[action](slug, domain, actor=admin.actor)
    except TenantryError as exc:
        return await _tenant_page(request, admin, slug, status=exc.status, domain_error=exc.message)
    return back(f"/admin/tenants/{slug}", f"{domain}: {action} done")


@router.get("/apps", response_class=HTMLResponse)
async def apps(request: Request, admin: AdminDep) -> HTMLResponse:
    async with _services(request).db.platform_transaction() as tx:
        catalog = await repository.apps(tx)
    return render(request, "apps.html", admin, apps=catalog)


@router.get("/policies", response_class=HTMLResponse)
async def policies(request: Request, admin: AdminDep) -> HTMLResponse:
    services = _services(request)
    async with services.db.platform_transaction() as tx:
        tables = await repository.policy_tables(tx)
    findings = await asyncio.to_thread(
        audit, dsn.platform_url(services.settings), Roles(services.settings.role_prefix)
    )
    flagged = {f.object.split(" ")[0] for f in findings}
    return render(
        request, "policies.html", admin, tables=tables, findings=findings, flagged=flagged
    )


@router.get("/security-events", response_class=HTMLResponse)
async def security_events(
    request: Request,
    admin: AdminDep,
    tenant: Annotated[str, Query(max_length=63)] = "",
    app: Annotated[str, Query(max_length=40)] = "",
    kind: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    def when(value: str) -> datetime | None:
        try:
            return datetime.fromisoformat(value) if value else None
        except ValueError:
            return None

    async with _services(request).db.platform_transaction() as tx:
        events = await repository.search_events(
            tx,
            tenant=tenant or None,
            app=app or None,
            kind=kind or None,
            since=when(since),
            until=when(until),
            limit=PAGE + 1,
            offset=(page - 1) * PAGE,
        )
        kinds = await repository.event_kinds(tx)
    return render(
        request,
        "events.html",
        admin,
        events=events[:PAGE],
        more=len(events) > PAGE,
        page=page,
        kinds=kinds,
        filters={"tenant": tenant, "app": app, "kind": kind, "since": since, "until": until},
    )


@router.get("/security-events/{event_id}", response_class=HTMLResponse)
async def security_event(request: Request, event_id: UUID, admin: AdminDep) -> HTMLResponse:
    async with _services(request).db.platform_transaction() as tx:
        found = await repository.event(tx, event_id)
    if found is None:
        raise NotFound("no such event")
    return render(
        request, "event.html", admin, event=found, detail=json.dumps(found["detail"], indent=2)
    )


@router.get("/people", response_class=HTMLResponse)
async def people(
    request: Request,
    admin: AdminDep,
    tenant: Annotated[str, Query(max_length=63)] = "",
    email: Annotated[str, Query(max_length=320)] = "",
) -> HTMLResponse:
    services = _services(request)
    identities: list[Any] = []
    error = ""
    if tenant and email:
        from tenantry.identity import correlation  # noqa: PLC0415

        async with services.db.platform_transaction() as tx:
            record = await tenants_repo.get_record(tx, tenant)
            if record is None:
                error = f"no tenant {tenant!r}"
            else:
                identities = await correlation.identities_by_email(tx, record.id, email)
    return render(
        request,
        "people.html",
        admin,
        tenant=tenant,
        email=email,
        identities=identities,
        error=error,
    )
