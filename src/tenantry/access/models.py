"""Access control's domain types: what a user holds, and the objects that give it to them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.identity.principal import Principal, Scope
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import Conflict, InsufficientPrivilege, NotFound

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime
    from uuid import UUID

OWNER = "owner"


class SubjectKind(enum.StrEnum):
    USER = "user"
    DEPARTMENT = "department"
    # A group's members (users of any of the tenant's apps) hold what it is assigned.
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class Grant:
    """One privilege, tenant-wide (`department_id` None) or within a department's subtree."""

    privilege: str
    department_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Holdings:
    """Everything a user holds in one app of one tenant."""

    grants: frozenset[Grant]

    @classmethod
    def of(cls, rows: Iterable[tuple[str, UUID | None]]) -> Holdings:
        return cls(frozenset(Grant(p, d) for p, d in rows))

    @property
    def tenant_wide(self) -> frozenset[str]:
        return frozenset(g.privilege for g in self.grants if g.department_id is None)

    def anywhere(self, privilege: str) -> bool:
        return any(g.privilege == privilege for g in self.grants)

    def covers(self, privilege: str, paths: Iterable[Iterable[UUID]] | None) -> bool:
        """Held tenant-wide, or within a subtree containing one of `paths` (a department's
        ancestors and itself). `paths` None: the target is the whole tenant."""
        if privilege in self.tenant_wide:
            return True
        if paths is None:
            return False
        scopes = {g.department_id for g in self.grants if g.privilege == privilege}
        return any(scopes.intersection(path) for path in paths)

    def subtrees(self, privilege: str) -> frozenset[UUID]:
        return frozenset(
            g.department_id
            for g in self.grants
            if g.privilege == privilege and g.department_id is not None
        )

    def as_context(self) -> dict[str, object]:
        departments: dict[str, list[str]] = {}
        for g in self.grants:
            if g.department_id is not None:
                departments.setdefault(str(g.department_id), []).append(g.privilege)
        return {
            "privileges": sorted(self.tenant_wide),
            "department_privileges": {k: sorted(v) for k, v in sorted(departments.items())},
        }


@dataclass(frozen=True, slots=True)
class Privilege:
    key: str
    description: str
    owner_app_id: UUID | None


@dataclass(frozen=True, slots=True)
class Role:
    id: UUID
    key: str
    name: str
    template_key: str | None
    privileges: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Department:
    id: UUID
    parent_id: UUID | None
    name: str
    path: tuple[UUID, ...]


@dataclass(frozen=True, slots=True)
class Subject:
    kind: SubjectKind
    id: UUID
    # A user's app (a user is an identity of one app).
    app_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    id: UUID
    role_key: str
    subject: Subject
    only_app_id: UUID | None
    scope_department_id: UUID | None
    expires_at: datetime | None
    revoked_at: datetime | None
    granted_by: str


@dataclass(frozen=True, slots=True)
class Group:
    id: UUID
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class GuestInvitation:
    id: UUID
    group_id: UUID
    guest_app_id: UUID
    email: str
    email_normalized: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    app_user_id: UUID | None
    revoked_at: datetime | None
    expired: bool


@dataclass(frozen=True, slots=True)
class Guest:
    """A guest identity as its host sees it (never where it comes from)."""

    app_user_id: UUID
    app_id: UUID
    email: str
    status: str
    created_at: datetime
    groups: list[str]


@dataclass(frozen=True, slots=True)
class GuestStanding:
    """A guest identity and whether both its tenants still allow it (platform path)."""

    tenant_id: UUID
    app_id: UUID
    app_user_id: UUID
    status: str
    deactivated_by: str | None
    allowed: bool


@dataclass(frozen=True, slots=True)
class PlatformAuthority(Principal):
    """A platform administrator working on one tenant (the admin UI) with the authority of that
    tenant's owner: every privilege, tenant-wide. Its transactions run in the tenant's context
    without a user, so the database's grant guard leaves the decision to the service (which
    checks against the owner's holdings); `app_user_id` stays the administrator's own id, kept
    on grants as who granted them, and the actor records the platform administrator."""

    @classmethod
    def of(cls, admin: Principal, tenant_id: UUID, admin_app_id: UUID) -> PlatformAuthority:
        if Scope.PLATFORM not in admin.scopes or admin.acting is not None:
            raise InsufficientPrivilege("only a platform administrator acts on another tenant")
        return cls(
            tenant_id=tenant_id,
            app_id=admin_app_id,
            app_slug=admin.app_slug,
            app_user_id=admin.app_user_id,
            credential=admin.credential,
            scopes=admin.scopes,
            session_id=admin.session_id,
        )

    @property
    def context(self) -> TenantContext:
        return TenantContext(self.tenant_id, self.app_id)


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """Whether guests come in from other tenants and go out to them; the defaults deny."""

    guests_in: bool = False
    guests_out: bool = False
    guest_apps: frozenset[UUID] = frozenset()
    guest_max_role: str = "viewer"

    def admits(self, app_id: UUID) -> bool:
        return self.guests_in and app_id in self.guest_apps

    def lets_out(self, app_id: UUID) -> bool:
        return self.guests_out and app_id in self.guest_apps


class GuestInvitationNotFound(NotFound):
    code = "guest_invitation_not_found"


class GuestInvitationClosed(Conflict):
    """Accepted, revoked or expired: the message says which."""

    code = "guest_invitation_closed"
