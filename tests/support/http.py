"""Clients for the app over ASGI, and the calls several suites make."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tests.support.accounts import User

_ips = itertools.count(1)


def client_for(app: FastAPI, host: str = "testserver") -> httpx.AsyncClient:
    # Each client has its own address, so per-address login throttling of one test does not
    # spill into another.
    n = next(_ips)
    transport = httpx.ASGITransport(app=app, client=(f"10.9.{n // 250}.{n % 250 + 1}", 40000))
    return httpx.AsyncClient(transport=transport, base_url=f"http://{host}")


async def context_of(client: httpx.AsyncClient, user: User) -> dict[str, Any]:
    """The user's tenant context, in one call."""
    response = await client.get(f"/v1/apps/{user.app}/context", headers=user.auth)
    assert response.status_code == 200, response.text
    return response.json()
