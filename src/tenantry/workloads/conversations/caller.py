"""Who a use case acts for: the app user a request authenticated, in its tenant and app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.workloads.conversations.errors import ReadOnlySession

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.library import Principal


@dataclass(frozen=True, slots=True)
class Caller:
    tenant_id: UUID
    app_id: UUID
    user_id: UUID
    # Someone acting for the user with read-only rights (an impersonation): reads only.
    read_only: bool = False

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        context = principal.context
        return cls(principal.tenant_id, principal.app_id, principal.app_user_id, context.read_only)

    def writing(self) -> Caller:
        """This caller, refused before any statement when it may only read (otherwise the
        database's READ ONLY transaction would refuse it as a server error)."""
        if self.read_only:
            raise ReadOnlySession("this session may only read")
        return self
