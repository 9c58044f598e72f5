"""The gateway's stage: two versions of an upstream and Tenantry, each a real uvicorn server on
loopback; an app `relay` published as 1.0.0 and 2.0.0 with routes to one upstream each; tenants
pinned to 1.0.0, to 2.0.0 and following the latest, each with a signed-in user."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from importlib import resources

import httpx
import pytest

from tenantry.web import create_app
from tests.gateway.servers import serve
from tests.gateway.upstream import Upstream
from tests.support.accounts import Tenant, User, make_tenant, signed_in
from tests.support.wiring import FIXTURES, api_settings, services_for

APP = "relay"
PREFIXES = ("/workspaces", "/threads", "/slow", "/down")
# `/slow` answers after its timeout; `/down` points at a closed port.
SLOW_TIMEOUT_MS = 400


@dataclass
class Stage:
    tenantry: str
    v1: Upstream
    v2: Upstream
    pinned_v1: User
    pinned_v2: User
    latest: User
    other_app: User  # a thinktank user of the tenant pinned to 2.0.0

    def clear(self) -> None:
        self.v1.seen.clear()
        self.v2.seen.clear()


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def manifest(version: str) -> dict[str, object]:
    seed = resources.files("tenantry.registry").joinpath("manifests/thinktank.json")
    document = copy.deepcopy(json.loads(seed.read_text("utf-8")))
    document.update(
        slug=APP,
        name="Relay",
        version=version,
        description="The gateway tests' app",
        routes=[{"prefix": p, "description": p} for p in PREFIXES],
        privileges=[{"key": f"{APP}.things.manage", "description": "Manage things"}],
    )
    document["events"]["emits"] = []
    document["entitlements"] = {"features": [], "limits": []}
    return document


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[Upstream, str, Upstream, str]]:
    v1, v2 = Upstream("1.0.0"), Upstream("2.0.0")
    with serve(lambda _: v1) as url1, serve(lambda _: v2) as url2:
        yield v1, url1, v2, url2


@pytest.fixture(scope="module")
async def published(db, upstreams) -> list[Tenant]:
    """Both versions and their routes, and the tenants, before Tenantry starts (so it knows
    the new app and gives it signing keys)."""
    _, url1, _, url2 = upstreams
    services = services_for(db)
    down = f"http://127.0.0.1:{closed_port()}"
    for version, url in (("1.0.0", url1), ("2.0.0", url2)):
        await services.registry.publish(manifest(version), by=FIXTURES)
        for prefix in PREFIXES:
            target, timeout = {"/down": (down, 2000), "/slow": (url, SLOW_TIMEOUT_MS)}.get(
                prefix, (url, 5000)
            )
            await services.registry.set_route(APP, version, prefix, target, timeout)
    tenants = [await make_tenant(db, APP, "thinktank") for _ in range(3)]
    for tenant, version in zip(tenants, ("1.0.0", "2.0.0"), strict=False):
        await services.tenant_apps.pin(tenant.slug, APP, version, by=FIXTURES, reason="tests")
    return tenants


@pytest.fixture(scope="module")
def tenantry_url(urls, published) -> Iterator[str]:
    make = lambda url: create_app(api_settings(urls, public_url=url))  # noqa: E731 - short
    with serve(make, proxy_headers=False) as url:
        yield url


@pytest.fixture(scope="module")
async def stage(upstreams, published, tenantry_url) -> Stage:
    v1, _, v2, _ = upstreams
    async with httpx.AsyncClient(base_url=tenantry_url) as client:
        users = [
            await signed_in(client, APP, t, f"gw{i}@example.com") for i, t in enumerate(published)
        ]
        other = await signed_in(client, "thinktank", published[1], "tt@example.com")
    return Stage(tenantry_url, v1, v2, users[0], users[1], users[2], other)


@pytest.fixture
async def gateway(stage: Stage) -> AsyncIterator[httpx.AsyncClient]:
    stage.clear()
    async with httpx.AsyncClient(base_url=stage.tenantry, timeout=30) as client:
        yield client
