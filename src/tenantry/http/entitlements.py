"""Licensed features as a declared route dependency, beside `RequiresPrivilege`:

    principal: Annotated[Principal, RequiresFeature("reports")]

The check reads the tenant's entitlement snapshot from memory (`licensing.entitlements`); a
tenant whose licence for the app does not list the feature gets 403 `feature_not_licensed`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Request, Security

from tenantry.http.auth import Requires
from tenantry.identity.principal import Principal, Scope

if TYPE_CHECKING:
    from tenantry.services import Services


class _Feature:
    def __init__(self, feature: str) -> None:
        self.feature = feature

    async def __call__(
        self, request: Request, principal: Annotated[Principal, Requires()]
    ) -> Principal:
        services: Services = request.app.state.services
        await services.entitlements.require_feature(
            principal.tenant_id, principal.app_id, principal.app_slug, self.feature
        )
        return principal


def RequiresFeature(feature: str, scope: Scope = Scope.PROFILE) -> Any:  # noqa: ANN401, N802 - a FastAPI dependency marker, named like one
    """The route needs `scope` (as `Requires`) and a licence for the app listing `feature`."""
    return Security(_Feature(feature), scopes=[scope.value])
