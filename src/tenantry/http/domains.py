"""A tenant's custom domains on the control plane: claim, verify by DNS TXT, make primary,
remove."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import status
from pydantic import BaseModel, ConfigDict, Field

from tenantry.http.auth import PlatformAdmin
from tenantry.http.platform import Slug, platform_router
from tenantry.services import ServicesDep

router = platform_router("domains")
Domain = Annotated[str, Field(max_length=253)]


class DomainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain: str = Field(min_length=3, max_length=253)


@router.post("/tenants/{slug}/domains", status_code=status.HTTP_201_CREATED)
async def add_domain(
    slug: Slug, body: DomainRequest, principal: PlatformAdmin, services: ServicesDep
) -> dict[str, str]:
    """Returns the TXT record to publish before verifying."""
    return await services.domains.add(slug, body.domain, by=principal.actor)


@router.post("/tenants/{slug}/domains/{domain}/{action}", status_code=status.HTTP_204_NO_CONTENT)
async def change_domain(
    slug: Slug,
    domain: Domain,
    action: Literal["verify", "primary"],
    principal: PlatformAdmin,
    services: ServicesDep,
) -> None:
    """`verify` checks the TXT record; `primary` makes a verified domain the tenant's main one."""
    change = services.domains.verify if action == "verify" else services.domains.set_primary
    await change(slug, domain, by=principal.actor)


@router.delete("/tenants/{slug}/domains/{domain}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_domain(
    slug: Slug, domain: Domain, principal: PlatformAdmin, services: ServicesDep
) -> None:
    await services.domains.remove(slug, domain, by=principal.actor)
