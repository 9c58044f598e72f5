"""What a module's API routes document beside their own answers.

    router = APIRouter(prefix="/v1/apps/{app}/notes", responses=PROBLEM_RESPONSES)

Every Tenantry route may answer 401, 403, 404, 409, 422, 429 or 503 as an RFC 9457 problem
(`application/problem+json` with a stable `code`); declaring them keeps the OpenAPI document,
the typed clients generated from it and the schema fuzzing in step with what the service sends.
"""

from __future__ import annotations

from tenantry.kit.problems import PROBLEM_RESPONSES, Problem

__all__ = ["PROBLEM_RESPONSES", "Problem"]
