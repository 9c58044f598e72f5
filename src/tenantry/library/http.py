"""What a module's API routers declare beside their own routes.

    router = APIRouter(
        prefix="/v1/apps/{app}/notes",
        responses=PROBLEM_RESPONSES,
        dependencies=[Depends(resolve_route_app)],
    )

- `PROBLEM_RESPONSES`: every Tenantry route may answer 401, 403, 404, 409, 422, 429 or 503 as
  an RFC 9457 problem (`application/problem+json` with a stable `code`); declaring them keeps
  the OpenAPI document, the clients generated from it and the schema fuzzing in step with what
  the service sends.
- `resolve_route_app`: documents the `{app}` path segment (an app slug) and answers 404 for an
  app this service does not serve, before anything else runs.
"""

from __future__ import annotations

from tenantry.http.auth import resolve_route_app
from tenantry.kit.problems import PROBLEM_RESPONSES, Problem

__all__ = ["PROBLEM_RESPONSES", "Problem", "resolve_route_app"]
