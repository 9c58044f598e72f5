"""A tenant's settings on the control plane: effective values, changes and their history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from tenantry.http.auth import PlatformAdmin
from tenantry.http.platform import Reason, Slug, platform_router
from tenantry.kit.jsonvalue import BoundedJson
from tenantry.services import ServicesDep

router = platform_router("settings")


class SettingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: BoundedJson
    reason: Reason


@router.get("/tenants/{slug}/settings")
async def tenant_settings(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep
) -> dict[str, Any]:
    return await services.settings_admin.effective(slug)


@router.put("/tenants/{slug}/settings/{key}")
async def change_setting(
    slug: Slug,
    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")],
    body: SettingChange,
    principal: PlatformAdmin,
    services: ServicesDep,
) -> dict[str, Any]:
    value = await services.settings_admin.set(
        slug, key, body.value, by=principal.actor, reason=body.reason
    )
    return {"key": key, "value": value}


@router.get("/tenants/{slug}/settings-history")
async def setting_history(
    slug: Slug,
    principal: PlatformAdmin,
    services: ServicesDep,
    key: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    return await services.settings_admin.history(slug, key)
