"""The route index changes how fast a route is found, never which: every guarded router answers
every path and method exactly as it would unguarded."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from starlette.routing import Match

from tenantry.kit.config import Settings
from tenantry.kit.route_index import index_routes, paths_pattern
from tenantry.web import create_app

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PARAM = re.compile(r"{[^}]+}")


def _templates(routes: Any, prefix: str = "") -> list[str]:
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            found += _templates(inner.routes, prefix + (getattr(context, "prefix", "") or ""))
        elif hasattr(route, "path"):
            found.append(prefix + route.path)
    return found


def _scope(path: str, method: str, root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "path": root_path + path, "root_path": root_path, "method": method}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings(database_url="postgresql://unused@127.0.0.1/unused"))


def _guarded(app: FastAPI) -> list[Any]:
    return [r for r in app.router.routes if "matches" in vars(r)]


def test_every_included_router_is_guarded(app: FastAPI) -> None:
    included = [r for r in app.router.routes if hasattr(r, "original_router")]
    assert included, "no included routers: the index has nothing to do"
    assert _guarded(app) == included


def test_guarded_routers_answer_as_unguarded(app: FastAPI) -> None:
    paths = {PARAM.sub("x", t) for t in _templates(app.router.routes)}
    paths |= {"/", "/v1/apps/x/nowhere/else", "/v1/apps/x", "/admin", "/nope", ""}
    compared = 0
    for entry in _guarded(app):
        unguarded = type(entry).matches
        for path in sorted(paths):
            for method in METHODS:
                for root in ("", "/mounted"):
                    fast, _ = entry.matches(_scope(path, method, root))
                    slow, _ = unguarded(entry, _scope(path, method, root))
                    assert fast == slow, (path, method, root, entry)
                    compared += fast is not Match.NONE
    assert compared > len(paths)  # the comparison saw matches, not only refusals


def test_a_router_whose_paths_cannot_be_told_is_left_alone() -> None:
    inner = APIRouter()
    inner.mount("/static", FastAPI())
    app = FastAPI()
    app.include_router(inner)
    index_routes(app.router.routes)
    assert _guarded(app) == []
    assert paths_pattern(inner.routes) is None


def test_a_router_included_after_the_index_is_still_reached(app: FastAPI) -> None:
    extra = APIRouter()

    @extra.get("/v1/apps/{app}/reports")
    async def reports() -> dict[str, str]:
        return {}

    late = create_app(Settings(database_url="postgresql://unused@127.0.0.1/unused"))
    late.include_router(extra)
    entry = late.router.routes[-1]
    assert entry.matches(_scope("/v1/apps/x/reports", "GET"))[0] is Match.FULL
