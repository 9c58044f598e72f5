"""What every control-plane router shares: its prefix, and the shapes of names and reasons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from tenantry.kit.problems import PROBLEM_RESPONSES

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,62}$")]
AppSlug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
FlagKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{1,99}$")]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]


def platform_router(tag: str) -> APIRouter:
    """A router under `/v1/platform`, for platform administrators only (each route declares
    `PlatformAdmin`, so anyone else is answered 404)."""
    return APIRouter(prefix="/v1/platform", tags=[tag], responses=PROBLEM_RESPONSES)
