"""A tenant's webhook endpoints, managed by holders of `webhooks.manage` under
`/v1/apps/admin/webhooks`: create (the signing secret is in this answer only), list, read,
change, delete, rotate the secret (the new one shown once, the old ones signing on for the
overlap), disable and enable, send a test event, and read the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from tenantry.http.auth import RequiresPrivilege, resolve_route_app
from tenantry.identity.principal import Principal
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import ServicesDep
from tenantry.webhooks.models import Attempt, Endpoint

router = APIRouter(
    prefix="/v1/apps/{app}/webhooks",
    tags=["webhooks"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
ManageWebhooks = Annotated[Principal, RequiresPrivilege("webhooks.manage")]
Types = Annotated[list[Annotated[str, Field(max_length=200)]], Field(min_length=1, max_length=50)]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000)
    event_types: Types
    description: str = Field(default="", max_length=500)


class EndpointChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: Types | None = None
    description: str | None = Field(default=None, max_length=500)


class Disabling(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class EndpointOut(BaseModel):
    id: UUID
    url: str
    description: str
    event_types: list[str]
    status: str
    disabled_reason: str | None
    disabled_at: datetime | None
    created_at: datetime
    failing_since: datetime | None
    consecutive_failures: int
    last_status_code: int | None
    last_attempt_at: datetime | None
    success_rate: float | None


class CreatedEndpointOut(EndpointOut):
    """The signing secret (`whsec_…`) appears here and in a rotation's answer, never again."""

    secret: str


class SecretOut(BaseModel):
    secret: str


class TestOut(BaseModel):
    ok: bool
    status_code: int | None
    latency_ms: int | None
    error: str | None


class AttemptOut(BaseModel):
    id: UUID
    event_id: UUID
    event_type: str
    attempt: int
    attempted_at: datetime
    ok: bool
    status_code: int | None
    latency_ms: int
    error: str | None


def _out(endpoint: Endpoint) -> EndpointOut:
    return EndpointOut(
        **{k: getattr(endpoint, k) for k in EndpointOut.model_fields if k != "success_rate"},
        success_rate=endpoint.success_rate,
    )


def _attempt(attempt: Attempt) -> AttemptOut:
    return AttemptOut(**{k: getattr(attempt, k) for k in AttemptOut.model_fields})


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CreatedEndpointOut)
async def create_endpoint(
    body: EndpointIn, principal: ManageWebhooks, services: ServicesDep
) -> CreatedEndpointOut:
    created = await services.webhooks.create(
        principal.tenant_id,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
    )
    return CreatedEndpointOut(**_out(created.endpoint).model_dump(), secret=created.secret)


@router.get("", response_model=list[EndpointOut])
async def endpoints(principal: ManageWebhooks, services: ServicesDep) -> list[EndpointOut]:
    return [_out(e) for e in await services.webhooks.endpoints(principal.tenant_id)]


@router.get("/{endpoint_id}", response_model=EndpointOut)
async def endpoint(
    endpoint_id: UUID, principal: ManageWebhooks, services: ServicesDep
) -> EndpointOut:
    return _out(await services.webhooks.get(principal.tenant_id, endpoint_id))


@router.patch("/{endpoint_id}", response_model=EndpointOut)
async def change_endpoint(
    endpoint_id: UUID, body: EndpointChange, principal: ManageWebhooks, services: ServicesDep
) -> EndpointOut:
    changed = await services.webhooks.update(
        principal.tenant_id,
        endpoint_id,
        url=body.url,
        description=body.description,
        event_types=body.event_types,
    )
    return _out(changed)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(
    endpoint_id: UUID, principal: ManageWebhooks, services: ServicesDep
) -> None:
    await services.webhooks.delete(principal.tenant_id, endpoint_id)


@router.post("/{endpoint_id}/rotate-secret", response_model=SecretOut)
async def rotate_secret(
    endpoint_id: UUID, principal: ManageWebhooks, services: ServicesDep
) -> SecretOut:
    return SecretOut(secret=await services.webhooks.rotate_secret(principal.tenant_id, endpoint_id))


@router.post("/{endpoint_id}/disable", response_model=EndpointOut)
async def disable_endpoint(
    endpoint_id: UUID, body: Disabling, principal: ManageWebhooks, services: ServicesDep
) -> EndpointOut:
    return _out(await services.webhooks.disable(principal.tenant_id, endpoint_id, body.reason))


@router.post("/{endpoint_id}/enable", response_model=EndpointOut)
async def enable_endpoint(
    endpoint_id: UUID, principal: ManageWebhooks, services: ServicesDep
) -> EndpointOut:
    return _out(await services.webhooks.enable(principal.tenant_id, endpoint_id))


@router.post("/{endpoint_id}/test", response_model=TestOut)
async def send_test_event(
    endpoint_id: UUID, principal: ManageWebhooks, services: ServicesDep
) -> TestOut:
    """Send a signed `webhook.test` event to this endpoint now and answer how it went."""
    outcome = await services.webhook_deliverer.send_test(principal.tenant_id, endpoint_id)
    return TestOut(
        ok=outcome.ok,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
    )


@router.get("/{endpoint_id}/attempts", response_model=list[AttemptOut])
async def attempts(
    endpoint_id: UUID,
    principal: ManageWebhooks,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[AttemptOut]:
    """The endpoint's delivery log, newest first."""
    found = await services.webhooks.attempts(principal.tenant_id, endpoint_id, limit=limit)
    return [_attempt(a) for a in found]
