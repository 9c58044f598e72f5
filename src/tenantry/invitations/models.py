"""Invitations' domain types and errors: what the edges and other features may name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.kit.errors import Conflict, NotFound

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID


@dataclass(frozen=True, slots=True)
class Invitation:
    id: UUID
    app_id: UUID
    email: str
    display_name: str | None
    role_keys: list[str]
    # pending, accepted, revoked or expired, computed when read
    status: str
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


@dataclass(frozen=True, slots=True)
class Acceptance:
    invitation: Invitation
    tenant_id: UUID
    app_user_id: UUID
    created: bool  # a new identity, or an existing one of the address reused


class InvitationNotFound(NotFound):
    code = "invitation_not_found"


class InvitationExpired(Conflict):
    code = "invitation_expired"


class InvitationUsed(Conflict):
    code = "invitation_used"


class InvitationRevoked(Conflict):
    code = "invitation_revoked"


class AlreadyInvited(Conflict):
    code = "already_invited"


class ResendLimitReached(Conflict):
    code = "resend_limit_reached"
