"""The one request principal: who is calling, for which tenant and app, with which scopes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.kit.actor import Actor
from tenantry.kit.context import TenantContext

if TYPE_CHECKING:
    from uuid import UUID

ADMIN_APP = "admin"


class Scope(enum.StrEnum):
    """What a credential may do. Routes declare the scopes they need (`http.auth.Requires`).

    `sessions`, `api_tokens` and `account` belong to interactive sessions only: an API token can
    never carry them, so a leaked token cannot mint more tokens, end its owner's sessions or
    take over the second factor. `account` is only present while the session's interactive
    sign-in is recent (`reauthentication_max_age_seconds`).
    """

    PROFILE = "profile"  # read one's own profile and tenant context
    SESSIONS = "sessions"  # list and revoke one's sessions, sign out
    API_TOKENS = "api_tokens"  # list, mint and revoke API tokens
    ACCOUNT = "account"  # change credentials: password, MFA (recent sign-in required)
    ADMIN = "admin"  # tenant administration, users of the admin app only
    PLATFORM = "platform"  # the control plane, platform administrators only


TOKEN_GRANTABLE = frozenset({Scope.PROFILE, Scope.ADMIN, Scope.PLATFORM})
# Someone acting for a user may at most read their profile and, if delegated an administrator's
# rights, administer; never sessions, tokens, credentials or the platform.
ACTING_GRANTABLE = frozenset({Scope.PROFILE, Scope.ADMIN})
# Missing one of these is answered as if the resource did not exist.
HIDDEN_SCOPES = frozenset({Scope.ADMIN, Scope.PLATFORM})


class Credential(enum.StrEnum):
    ACCESS_TOKEN = "access_token"
    API_TOKEN = "api_token"


class ActingMode(enum.StrEnum):
    IMPERSONATION = "impersonation"
    DELEGATION = "delegation"


@dataclass(frozen=True, slots=True)
class Acting:
    """Someone else acts as the principal's user: an administrator impersonating them, or a
    delegate they granted a right to act for them. Tokens carry it as the RFC 8693 `act` claim,
    the signed database context as its actor."""

    mode: ActingMode
    actor_user_id: UUID
    actor_tenant_id: UUID
    # The impersonation session or delegation the credential hangs on; ending it ends them.
    grant_id: UUID
    read_only: bool


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: UUID
    app_id: UUID
    app_slug: str
    app_user_id: UUID
    credential: Credential
    scopes: frozenset[Scope]
    session_id: UUID | None = None
    acting: Acting | None = None

    @classmethod
    def of_session(
        cls,
        tenant_id: UUID,
        app_id: UUID,
        app_slug: str,
        app_user_id: UUID,
        session_id: UUID,
        *,
        platform: bool,
        recent: bool,
    ) -> Principal:
        """The principal of an interactive session (a bearer access token, or the admin UI's
        cookie): its scopes follow from the app, the tenant and how recent the sign-in is."""
        return cls(
            tenant_id=tenant_id,
            app_id=app_id,
            app_slug=app_slug,
            app_user_id=app_user_id,
            credential=Credential.ACCESS_TOKEN,
            scopes=session_scopes(app_slug, platform=platform, recent=recent),
            session_id=session_id,
        )

    @property
    def context(self) -> TenantContext:
        if self.acting is None:
            return TenantContext(self.tenant_id, self.app_id, self.app_user_id)
        return TenantContext(
            self.tenant_id,
            self.app_id,
            self.app_user_id,
            actor_id=self.acting.actor_user_id,
            read_only=self.acting.read_only,
        )

    @property
    def is_tenant_admin(self) -> bool:
        return Scope.ADMIN in self.scopes

    @property
    def actor(self) -> Actor:
        if self.acting is not None:
            acting = self.acting
            return Actor(acting.mode.value, str(acting.actor_user_id), str(self.app_user_id))
        kind = "platform-admin" if Scope.PLATFORM in self.scopes else f"{self.app_slug}-user"
        return Actor(kind, str(self.app_user_id))


def session_scopes(app_slug: str, *, platform: bool, recent: bool) -> frozenset[Scope]:
    """The scopes of an interactive session: `platform` for admin-app users of the operator
    tenant, `recent` while its sign-in is fresh enough for credential changes."""
    scopes = {Scope.PROFILE, Scope.SESSIONS, Scope.API_TOKENS}
    if recent:
        scopes.add(Scope.ACCOUNT)
    if app_slug == ADMIN_APP:
        scopes.add(Scope.ADMIN)
        if platform:
            scopes.add(Scope.PLATFORM)
    return frozenset(scopes)
