"""What every generated method stands on: the HTTP exchange, and problems as exceptions."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote
from uuid import UUID

import httpx

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

DEFAULT_URL = "http://127.0.0.1:8000"


class ProblemError(Exception):
    """An error answer: an RFC 9457 problem with Tenantry's stable `code` (`not_found`,
    `insufficient_scope`, `validation_failed`, ...). An answer that is not a problem document
    (a proxy's 502, say) has the code `unexpected_response` and its text as the detail."""

    def __init__(self, status: int, code: str, detail: str, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        # The whole document: `title`, `type`, `instance`, `request_id`, field `errors`, and
        # what some codes add (`mfa_token`, `max_age`).
        self.problem = dict(problem)

    @property
    def request_id(self) -> str | None:
        value = self.problem.get("request_id")
        return value if isinstance(value, str) else None

    @classmethod
    def of(cls, response: httpx.Response) -> ProblemError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            return cls(response.status_code, body["code"], str(body.get("detail", "")), body)
        text = response.text[:500]
        return cls(response.status_code, "unexpected_response", text, {"detail": text})


def segment(value: object) -> str:
    """A path parameter, escaped so that it stays one segment."""
    return quote(_text(value), safe="")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


class Transport:
    """An httpx client and the bearer token sent with every request."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = http
        self.token = token

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        headers: Mapping[str, object] | None = None,
        json: Any = None,  # noqa: ANN401 - any JSON body the operation takes
        form: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """The answer to one request; an error answer raises `ProblemError`."""
        params: list[tuple[str, str | int | float | bool | None]] = [
            (name, _text(item))
            for name, value in (query or {}).items()
            if value is not None
            for item in (value if isinstance(value, list | tuple) else [value])
        ]
        sent = {name: _text(value) for name, value in (headers or {}).items() if value is not None}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        response = await self.http.request(
            method,
            path,
            params=params,
            headers=sent,
            json=_jsonable(json) if json is not None else None,
            data={k: _text(v) for k, v in form.items() if v is not None} if form else None,
        )
        if response.is_error:
            raise ProblemError.of(response)
        return response


def _jsonable(value: Any) -> Any:  # noqa: ANN401 - JSON in, JSON out
    """TypedDict bodies may carry UUIDs and datetimes; the wire takes their text."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, UUID | datetime | date | Enum):
        return _text(value)
    return value


class ClientBase:
    """Construction, the token and the connection's lifetime; `TenantryClient` adds the
    generated operation groups."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        """A client of the service at `base_url`, or over `http` (its base URL, transport and
        timeouts; closing this client leaves it open)."""
        self._owns_http = http is None
        self._transport = Transport(http or httpx.AsyncClient(base_url=base_url), token)
        self._bind(self._transport)

    def _bind(self, transport: Transport) -> None:
        raise NotImplementedError

    @property
    def token(self) -> str | None:
        """The bearer credential sent with every request: an access token or an API token."""
        return self._transport.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._transport.token = value

    def with_token(self, token: str | None) -> Self:
        """Another client on the same connection pool, acting with `token`."""
        return type(self)(token=token, http=self._transport.http)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._transport.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
