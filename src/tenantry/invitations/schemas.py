"""Request and response bodies of the invitation and user-administration endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tenantry.identity.schemas import Email, OpaqueValue, Password

RoleKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,62}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
DisplayName = Annotated[str, StringConstraints(max_length=200)]
InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InvitationCreate(Body):
    email: Email
    display_name: DisplayName | None = None
    roles: list[RoleKey] = Field(default_factory=list, max_length=20)


class InvitationRevoke(Body):
    reason: Reason | None = None


class InvitationAccept(Body):
    token: OpaqueValue
    password: Password | None = Field(
        default=None,
        description="Required for a new account; for an existing one it replaces the password "
        "(ending its sessions and API tokens, like a reset).",
    )
    display_name: DisplayName | None = None


class InvitationOut(BaseModel):
    id: UUID
    app_id: UUID
    email: str
    display_name: str | None
    role_keys: list[str]
    status: InvitationStatus
    invited_by: str
    created_at: datetime
    expires_at: datetime
    last_sent_at: datetime
    send_count: int
    accepted_at: datetime | None
    app_user_id: UUID | None
    roles_applied_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


class AcceptanceOut(BaseModel):
    invitation_id: UUID
    tenant_id: UUID
    app_user_id: UUID
    created: bool


class Deactivation(Body):
    reason: Reason


class UserStatusOut(BaseModel):
    id: UUID
    email: str
    status: str
