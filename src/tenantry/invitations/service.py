"""Invitations: a tenant administrator invites someone by email into one of the tenant's apps,
with role keys; the invited person accepts with the mailed single-use token.

- The invitation and its mail (the outbox) are one transaction: no mail for an invitation that
  did not commit, no invitation whose mail is lost.
- Only the token's hash is stored; a resend mints a new token (the old one stops working) and
  is limited (`RESEND_INTERVAL_SECONDS` apart, `MAX_SENDS` in all).
- Accepting creates the identity with the password chosen then, or reuses the address's
  existing identity in that tenant and app; either way the address is verified (and proven) by
  the act of accepting. The token's row is locked while it is used, so of two concurrent
  acceptances exactly one wins; the other gets `invitation_used`.
- Everything runs in the invitation's own tenant and app context: another tenant's invitation
  is invisible, so it is a 404 like any missing one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from tenantry.identity import passwords
from tenantry.identity.tokens import TokenKind, new_token, parse_token
from tenantry.invitations import repository
from tenantry.invitations.models import (
    Acceptance,
    AlreadyInvited,
    InvitationExpired,
    InvitationNotFound,
    InvitationRevoked,
    InvitationUsed,
    ResendLimitReached,
)
from tenantry.kit.actor import Actor
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import Conflict, NotFound, RateLimited

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.apps.models import App
    from tenantry.apps.service import AppDirectory
    from tenantry.audit_log.service import AuditLog
    from tenantry.identity.directory import UserDirectory
    from tenantry.identity.principal import Principal
    from tenantry.identity.tenancy import TenantGate
    from tenantry.invitations.models import Invitation
    from tenantry.kit.db import Database, Transaction

INVITATION_TTL_SECONDS = 7 * 24 * 3600
RESEND_INTERVAL_SECONDS = 60
MAX_SENDS = 5
LIST_LIMIT = 200


class RoleGrants(Protocol):
    """Checks an invitation's role keys when it is made and assigns them when it is accepted
    (the access feature, passed by the composition root)."""

    async def check_grantable(self, principal: Principal, role_keys: list[str]) -> None: ...

    async def assign_invited_in(
        self,
        tx: Transaction,
        *,
        tenant_id: UUID,
        app_id: UUID,
        app_user_id: UUID,
        role_keys: list[str],
        by: Actor,
    ) -> None: ...


def require_admin(principal: Principal) -> None:
    if not principal.is_tenant_admin:
        raise NotFound("not found")


def _usable(invitation: Invitation) -> None:
    if invitation.status == "accepted":
        raise InvitationUsed("this invitation has already been accepted")
    if invitation.status == "revoked":
        raise InvitationRevoked("this invitation was revoked")
    if invitation.status == "expired":
        raise InvitationExpired("this invitation has expired; ask for a new one")


def _mail(app: App, tenant_slug: str, code: str) -> tuple[str, str]:
    subject = f"You are invited to {app.name}"
    body = (
        f"You have been invited to {app.name} in {tenant_slug}.\n\n"
        f"To accept, choose a password with this code:\n\n{code}\n\n"
        f"It expires in {INVITATION_TTL_SECONDS // 86400} days. "
        "If you did not expect it, ignore this mail."
    )
    return subject, body


class Invitations:
    def __init__(
        self,
        db: Database,
        apps: AppDirectory,
        tenants: TenantGate,
        users: UserDirectory,
        *,
        audit: AuditLog,
        roles: RoleGrants,
    ) -> None:
        self._db = db
        self._apps = apps
        self._tenants = tenants
        self._users = users
        self._roles = roles
        self._audit = audit

    async def _record(
        self,
        tx: Transaction,
        tenant_id: UUID,
        action: str,
        invitation: Invitation,
        by: Actor,
        **metadata: Any,  # noqa: ANN401 - JSON values
    ) -> None:
        await self._audit.record_in(
            tx,
            tenant_id=tenant_id,
            action=action,
            object_type="invitation",
            object_id=invitation.id,
            by=by,
            app_id=invitation.app_id,
            metadata={"email": invitation.email, "roles": invitation.role_keys, **metadata},
        )

    async def _serving_app(self, principal: Principal, app_slug: str) -> App:
        require_admin(principal)
        app = self._apps.by_slug(app_slug)
        await self._tenants.require_serving(principal.tenant_id, app.id)
        return app

    async def invite(
        self,
        principal: Principal,
        app_slug: str,
        email: str,
        *,
        display_name: str | None,
        role_keys: list[str],
        by: Actor,
    ) -> Invitation:
        app = await self._serving_app(principal, app_slug)
        await self._roles.check_grantable(principal, sorted(set(role_keys)))
        tenant_id = principal.tenant_id
        token = new_token(TokenKind.ONE_TIME, tenant_id)
        tenant = await self._tenants.get(tenant_id)
        assert tenant is not None  # serving, checked above
        subject, body = _mail(app, tenant.slug, token.value)
        normalized = email.strip().lower()
        async with self._db.tenant_transaction(TenantContext(tenant_id, app.id)) as tx:
            existing = await self._users.find_in(tx, tenant_id, app.id, normalized)
            if existing is not None and existing.status != "active":
                raise Conflict("this account is deactivated; reactivate it instead")
            await repository.close_expired(tx, tenant_id, app.id, normalized)
            try:
                invitation = await repository.insert(
                    tx,
                    tenant_id,
                    app.id,
                    email=email.strip(),
                    display_name=display_name,
                    role_keys=sorted(set(role_keys)),
                    token_hash=token.hash,
                    ttl_seconds=INVITATION_TTL_SECONDS,
                    invited_by=str(by),
                )
            except Conflict as exc:
                raise AlreadyInvited(
                    "this address already has an open invitation to the app; resend it instead"
                ) from exc
            await self._users.queue_mail_in(tx, tenant_id, app.id, invitation.email, subject, body)
            await self._record(tx, tenant_id, "invitation.create", invitation, by)
        return invitation

    async def list(
        self, principal: Principal, app_slug: str, status: str | None = None
    ) -> list[Invitation]:
        app = await self._serving_app(principal, app_slug)
        async with self._db.tenant_transaction(TenantContext(principal.tenant_id, app.id)) as tx:
            return await repository.listed(tx, principal.tenant_id, app.id, status, LIST_LIMIT)

    async def revoke(
        self,
        principal: Principal,
        app_slug: str,
        invitation_id: UUID,
        *,
        by: Actor,
        reason: str | None = None,
    ) -> Invitation:
        app = await self._serving_app(principal, app_slug)
        tenant_id = principal.tenant_id
        async with self._db.tenant_transaction(TenantContext(tenant_id, app.id)) as tx:
            revoked = await repository.revoke(
                tx, tenant_id, app.id, invitation_id, by=str(by), reason=reason
            )
            if revoked is None:
                current = await repository.get(tx, tenant_id, app.id, invitation_id)
                if current is None:
                    raise InvitationNotFound("no such invitation")
                _usable(current)
                raise AssertionError("an open invitation that could not be revoked")
            await self._record(tx, tenant_id, "invitation.revoke", revoked, by, reason=reason)
        return revoked

    async def resend(
        self, principal: Principal, app_slug: str, invitation_id: UUID, *, by: Actor
    ) -> Invitation:
        """A new token by mail, replacing the old one, with a fresh expiry."""
        app = await self._serving_app(principal, app_slug)
        tenant_id = principal.tenant_id
        tenant = await self._tenants.get(tenant_id)
        assert tenant is not None  # serving, checked above
        token = new_token(TokenKind.ONE_TIME, tenant_id)
        subject, body = _mail(app, tenant.slug, token.value)
        async with self._db.tenant_transaction(TenantContext(tenant_id, app.id)) as tx:
            current = await repository.get(tx, tenant_id, app.id, invitation_id)
            if current is None:
                raise InvitationNotFound("no such invitation")
            if current.status in {"accepted", "revoked"}:
                _usable(current)
            if current.send_count >= MAX_SENDS:
                raise ResendLimitReached(
                    f"this invitation was sent {MAX_SENDS} times; revoke it and invite again"
                )
            waited = await repository.seconds_since_sent(tx, tenant_id, app.id, invitation_id)
            if waited < RESEND_INTERVAL_SECONDS:
                raise RateLimited(
                    "this invitation was just sent; try again shortly",
                    RESEND_INTERVAL_SECONDS - waited,
                )
            renewed = await repository.renew_token(
                tx, tenant_id, app.id, invitation_id, token.hash, INVITATION_TTL_SECONDS
            )
            await self._users.queue_mail_in(tx, tenant_id, app.id, renewed.email, subject, body)
            await self._record(tx, tenant_id, "invitation.resend", renewed, by)
        return renewed

    async def accept(
        self, app: App, code: str, password: str | None, display_name: str | None
    ) -> Acceptance:
        parsed = parse_token(code, TokenKind.ONE_TIME)
        if parsed is None:
            raise InvitationNotFound("no such invitation")
        tenant_id = parsed.tenant_id
        try:
            await self._tenants.require_serving(tenant_id, app.id)
        except NotFound as exc:
            raise InvitationNotFound("no such invitation") from exc
        context = TenantContext(tenant_id, app.id)
        # Read and checked first, then the password hashed outside any transaction, then the
        # invitation used under a row lock (and checked again: someone may have been faster).
        async with self._db.tenant_transaction(context) as tx:
            seen = await repository.take(tx, tenant_id, app.id, parsed.hash)
        if seen is None:
            raise InvitationNotFound("no such invitation")
        _usable(seen)
        password_hash = None
        if password is not None:
            name = display_name or seen.display_name or ""
            passwords.check_policy(password, [seen.email, name, app.slug])
            password_hash = await passwords.hash_password(password)
        async with self._db.tenant_transaction(context) as tx:
            invitation = await repository.take(tx, tenant_id, app.id, parsed.hash)
            if invitation is None:
                raise InvitationNotFound("no such invitation")
            _usable(invitation)
            user, created = await self._users.accept_invitation_in(
                tx,
                tenant_id,
                app.id,
                invitation.email,
                display_name or invitation.display_name,
                password_hash=password_hash,
            )
            accepted = await repository.mark_accepted(tx, tenant_id, app.id, invitation.id, user.id)
            invitee = Actor(f"{app.slug}-user", str(user.id))
            if accepted.role_keys:
                await self._roles.assign_invited_in(
                    tx,
                    tenant_id=tenant_id,
                    app_id=app.id,
                    app_user_id=user.id,
                    role_keys=accepted.role_keys,
                    by=Actor("invitation", str(accepted.id)),
                )
                await repository.mark_roles_applied(tx, tenant_id, app.id, accepted.id)
            await self._record(
                tx, tenant_id, "invitation.accept", accepted, invitee, created=created
            )
        return Acceptance(accepted, tenant_id, user.id, created)
