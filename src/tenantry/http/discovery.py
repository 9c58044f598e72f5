"""Per-app discovery for relying parties: the public signing keys and an OpenID-style
configuration document."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response

from tenantry.http.auth import APP_SLUG
from tenantry.identity.access_tokens import issuer
from tenantry.kit import problems
from tenantry.services import ServicesDep

router = APIRouter(
    prefix="/v1/apps/{app}/.well-known",
    tags=["identity"],
    responses=problems.problem_responses(404, 422),
)
# Key sets may be cached by relying parties; key rotation keeps retired keys published longer.
PUBLIC_CACHE = "public, max-age=300"


@router.get("/jwks.json")
async def jwks(
    app: Annotated[str, APP_SLUG], services: ServicesDep, response: Response
) -> dict[str, Any]:
    """The app's public signing keys (current and not yet retired)."""
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return services.keys.jwks(services.apps.by_slug(app).id)


@router.get("/openid-configuration")
async def openid_configuration(
    app: Annotated[str, APP_SLUG], services: ServicesDep, response: Response
) -> dict[str, Any]:
    response.headers["Cache-Control"] = PUBLIC_CACHE
    base = issuer(services.settings.public_url, services.apps.by_slug(app).slug)
    return {
        "issuer": base,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint": f"{base}/auth/login",
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["token"],
        "claims_supported": ["sub", "tenant_id", "app_id", "sid", "amr", "auth_time"],
    }
