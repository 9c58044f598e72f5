"""The one request principal: who is calling, for which tenant and app, with which scopes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.kit.context import TenantContext

if TYPE_CHECKING:
    from uuid import UUID


class Scope(enum.StrEnum):
    PROFILE = "profile"  # read and edit one's own profile
    SESSIONS = "sessions"  # list and revoke one's sessions
    API_TOKENS = "api_tokens"  # mint and revoke API tokens (never grantable to an API token)
    ADMIN = "admin"  # tenant administration, only for users of the admin app


TOKEN_GRANTABLE = frozenset({Scope.PROFILE, Scope.SESSIONS, Scope.ADMIN})


class Credential(enum.StrEnum):
    ACCESS_TOKEN = "access_token"
    API_TOKEN = "api_token"


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: UUID
    app_id: UUID
    app_slug: str
    app_user_id: UUID
    credential: Credential
    scopes: frozenset[Scope]
    session_id: UUID | None = None
    # A user of the admin app in the operator's own tenant (settings.platform_tenant).
    platform_admin: bool = False

    @property
    def context(self) -> TenantContext:
        return TenantContext(self.tenant_id, self.app_id, self.app_user_id)

    @property
    def is_tenant_admin(self) -> bool:
        return Scope.ADMIN in self.scopes


def session_scopes(app_slug: str) -> frozenset[Scope]:
    scopes = {Scope.PROFILE, Scope.SESSIONS, Scope.API_TOKENS}
    if app_slug == "admin":
        scopes.add(Scope.ADMIN)
    return frozenset(scopes)
