"""RFC 9457 problem details: every error leaves the API as `application/problem+json` with a
stable `code`. User mistakes are 4xx; only our own faults are 500, and they never carry details.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import psycopg
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from tenantry.kit.errors import (
    DatabaseBusy,
    MfaRequired,
    RateLimited,
    ReauthenticationRequired,
    TenantryError,
    Unauthorized,
)

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

log = logging.getLogger("tenantry.http")
MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, with Tenantry's stable `code`."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str
    request_id: str | None = None
    errors: list[FieldError] | None = None
    mfa_token: str | None = None
    max_age: int | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": description}
        for status, description in (
            (401, "Missing, invalid or expired credentials"),
            (403, "Credentials of another app or tenant, or a missing scope"),
            (404, "No such resource for this caller"),
            (409, "Conflicts with existing data"),
            (422, "The request is not valid"),
            (429, "Too many attempts; see Retry-After"),
            (503, "The database is unavailable"),
        )
        if status in statuses
    }


# Every API route may answer with these problems.
PROBLEM_RESPONSES = problem_responses(401, 403, 404, 409, 422, 429, 503)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,  # noqa: ANN401 - problem extension members
) -> JSONResponse:
    body = {
        "type": f"urn:tenantry:problem:{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "code": code,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TenantryError)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, ReauthenticationRequired):
        headers["WWW-Authenticate"] = (
            f'Bearer error="insufficient_user_authentication", max_age={exc.max_age}'
        )
        extra["max_age"] = exc.max_age
    elif isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(exc, MfaRequired):
        extra["mfa_token"] = exc.mfa_token
    if isinstance(exc, RateLimited):
        headers.update(exc.headers)
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, DatabaseBusy):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status >= 500:  # noqa: PLR2004 - the HTTP server-error class
        log.error("service error", extra={"code": exc.code})
    return problem(request, exc.status, exc.code, exc.message, headers or None, **extra)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(part) for part in error["loc"] if part != "body"),
            "message": error["msg"],
        }
        for error in exc.errors()
    ]
    return problem(request, 422, "validation_failed", "the request is not valid", errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return problem(request, exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


async def _unstorable_input(request: Request, _: Exception) -> JSONResponse:
    # e.g. a NUL byte or an out-of-range number that passed validation: the caller's data,
    # not our fault.
    return problem(
        request, 422, "invalid_input", "the request contains a value the database cannot store"
    )


# What a client is told to wait after a 503 for an unavailable database: the pool tries
# again within seconds of the server's return.
DATABASE_RETRY_AFTER_SECONDS = 2


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable", extra={"error": type(exc).__name__})
    return problem(
        request,
        503,
        "database_unavailable",
        "the database is unavailable",
        {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


async def _statement_cancelled(request: Request, _: Exception) -> JSONResponse:
    # A statement timeout (or an operator's pg_cancel_backend) met outside `Transaction`,
    # which names it itself: the request was too heavy, not the service broken.
    return problem(
        request, 503, "statement_timeout", "a database statement ran too long and was cancelled"
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return problem(request, 500, "internal_error", "an unexpected error occurred")


def install(app: FastAPI) -> None:
    app.add_exception_handler(TenantryError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(psycopg.errors.QueryCanceled, _statement_cancelled)
    app.add_exception_handler(psycopg.DataError, _unstorable_input)
    app.add_exception_handler(Exception, _unexpected)
