"""Routing in time independent of the number of routes.

FastAPI asks every included router, in order, whether it serves a path, and each router asks
each of its routes: with two hundred routes that costs milliseconds per request, most of it on
routers that cannot possibly match. `index_routes` gives each included router a guard, one
regular expression covering all of its paths, so a router whose paths cannot match answers
"no" at the cost of one regex match. What matches is unchanged: a guard only refuses paths
that none of the router's routes would accept, and the routers are still asked in order.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.routing import Match, Route, WebSocketRoute, compile_path

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from starlette.routing import BaseRoute
    from starlette.types import Scope

# A route's own groups are not needed to decide whether it could match.
NAMED_GROUP = re.compile(r"\(\?P<\w+>")


def index_routes(routes: Iterable[BaseRoute]) -> None:
    """Guard every included router among `routes` (an app's `router.routes`)."""
    for entry in routes:
        inner = getattr(entry, "original_router", None)
        if inner is None:
            continue  # a plain route already matches with one expression
        pattern = paths_pattern(inner.routes, _prefix_of(entry))
        if pattern is not None:
            _guard(entry, pattern)


def paths_pattern(routes: Iterable[BaseRoute], prefix: str = "") -> re.Pattern[str] | None:
    """One expression matching every path that one of `routes` serves, or None when a route's
    paths cannot be told (a mount, a host route, a kind this function does not know)."""
    parts: list[str] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            nested = paths_pattern(inner.routes, prefix + _prefix_of(route))
            if nested is None:
                return None
            parts.append(nested.pattern)
        elif isinstance(route, (Route, WebSocketRoute)):
            parts.append(NAMED_GROUP.sub("(?:", compile_path(prefix + route.path)[0].pattern))
        else:
            return None
    return re.compile("|".join(f"(?:{p})" for p in parts) or "(?!)")


def _prefix_of(entry: object) -> str:
    context = getattr(entry, "include_context", None)
    return str(getattr(context, "prefix", "") or "")


def _guard(entry: BaseRoute, pattern: re.Pattern[str]) -> None:
    # An attribute on the instance, not a wrapper object: FastAPI (OpenAPI, telemetry) still
    # sees the router it included.
    ask: Callable[[Scope], tuple[Match, Scope]] = entry.matches
    match = pattern.match

    def matches(scope: Scope) -> tuple[Match, Scope]:
        if match(_route_path(scope)) is None:
            return Match.NONE, {}
        return ask(scope)

    entry.matches = matches  # type: ignore[method-assign]  # on the instance, on purpose


def _route_path(scope: Scope) -> str:
    """The path routes match, as Starlette derives it: without the app's mount point."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path
