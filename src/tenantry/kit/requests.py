"""The current request's id, for records written deep inside a service (the audit log) without
passing it through every call. Set by the HTTP middleware; absent for the CLI and workers."""

from __future__ import annotations

from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("tenantry_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(request_id: str) -> None:
    """Name the request this task serves; each request runs in its own context copy."""
    _request_id.set(request_id)
