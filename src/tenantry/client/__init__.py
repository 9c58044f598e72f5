"""A typed Python client for Tenantry's REST API, generated from its OpenAPI document.

    from tenantry.client import ProblemError, TenantryClient

    async with TenantryClient("https://tenantry.example.com") as api:
        tokens = await api.identity.login(
            "thinktank", {"tenant": "acme", "email": "ada@example.com", "password": "..."}
        )
        api.token = tokens["access_token"]
        me = await api.identity.me("thinktank")

Every operation is one typed async method, grouped by its tag (`api.identity`, `api.costs`,
...); path, query and header parameters are arguments, request and response bodies TypedDicts
of `tenantry.client.types`. An error answer raises `ProblemError` with the problem's status,
stable `code` and `detail`. `api.py` and `types.py` are written by `tenantry client generate`
from the service's own OpenAPI document, and a test fails when they drift from it. The package
needs httpx and nothing else of Tenantry.
"""

from tenantry.client._transport import DEFAULT_URL, ProblemError
from tenantry.client.api import TenantryClient

__all__ = ["DEFAULT_URL", "ProblemError", "TenantryClient"]
