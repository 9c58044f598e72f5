"""Guests: a member of a home tenant joins a group of a host tenant as a guest.

An administrator of the host (holding `groups.manage` tenant-wide) invites an address into a
group for one app; the mail carries a single-use token. The invited person accepts while signed
in to their **home** tenant in that app, as the identity of exactly that address (proven by
Tenantry's own mailed code). Acceptance, in one platform transaction, creates their identity in
the host (an `app_users` row of the host without a password, marked in `guests`), links it to
the home identity (`guest_links`, platform path only) and adds it to the group. From then on the
person switches between home and host with the token exchange (`identity.people`), and every
token names exactly one tenant: neither context ever reads the other tenant's rows.

Both tenants must agree, and keep agreeing: the host's policy `guests_in`, the home's
`guests_out`, both for the app. What a guest holds in the host is capped by the host's
`guest_max_role` inside `tenantry.effective_privileges`. When either tenant withdraws (a policy
change, the home tenant suspended or removed, the home identity deactivated), `follow_in`
deactivates the guest identity in the host — sessions and tokens end in that transaction — and
when both agree again it reactivates the identities that it, and only it, deactivated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.audit import record
from tenantry.access.models import GuestInvitationClosed, GuestInvitationNotFound
from tenantry.access.repository import groups, guests, policies
from tenantry.access.service import holdings_in
from tenantry.audit_log.service import AuditLog
from tenantry.identity.principal import Credential
from tenantry.identity.tokens import TokenKind, new_token, parse_token
from tenantry.kit.actor import Actor
from tenantry.kit.errors import InsufficientPrivilege, InvalidInput, NotFound
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.access.models import Guest, GuestInvitation
    from tenantry.identity.directory import UserDirectory
    from tenantry.identity.principal import Principal
    from tenantry.kit.db import Database, Transaction

MANAGE = "groups.manage"
INVITATION_TTL_SECONDS = 7 * 24 * 3600
LIST_LIMIT = 200
# Who deactivates a guest when a tenant withdraws; only its own deactivations are undone.
POLICY = Actor("tenant-policy", "guests")
_SUBJECT = "You are invited to join a group as a guest"
_BODY = (
    "You have been invited to join a group of another organisation as a guest.\n\n"
    "Sign in to your own organisation in the same app, then accept with this code "
    "(valid for 7 days, usable once):\n\n{code}\n"
)


class GuestService:
    def __init__(self, db: Database, users: UserDirectory) -> None:
        self._db = db
        self._users = users

    # The host's side -------------------------------------------------------------------------

    async def invite(
        self, host: Principal, group_id: UUID, app_id: UUID, email: str, *, by: Actor
    ) -> GuestInvitation:
        """Invite `email` into the group for `app_id` and mail it the token (inviting the same
        address again resends it with a new token)."""
        token = new_token(TokenKind.ONE_TIME, host.tenant_id)
        async with self._db.tenant_transaction(host.context) as tx:
            await _require(tx, host)
            if await groups.get_group(tx, host.tenant_id, group_id) is None:
                raise NotFound("no such group")
            if not (await policies.get_policy(tx, host.tenant_id)).admits(app_id):
                raise InsufficientPrivilege("this tenant does not admit guests in this app")
            invitation = await guests.invite(
                tx, host.tenant_id, group_id, app_id, email, token.hash,
                INVITATION_TTL_SECONDS, str(by),
            )  # fmt: skip
            await self._users.queue_mail_in(
                tx, host.tenant_id, host.app_id, email, _SUBJECT, _BODY.format(code=token.value)
            )
            meta = {"group_id": str(group_id), "app_id": str(app_id), "email": email}
            await record(tx, host, "guest.invited", "guest_invitation", invitation.id, by, meta)
            return invitation

    async def invitations(self, host: Principal) -> list[GuestInvitation]:
        async with self._db.tenant_transaction(host.context) as tx:
            await _require(tx, host)
            return await guests.open_invitations(tx, host.tenant_id, LIST_LIMIT)

    async def revoke_invitation(self, host: Principal, invitation_id: UUID, *, by: Actor) -> None:
        async with self._db.tenant_transaction(host.context) as tx:
            await _require(tx, host)
            if not await guests.revoke_invitation(tx, host.tenant_id, invitation_id, str(by)):
                raise NotFound("no open invitation with that id")
            await record(
                tx, host, "guest.invitation_revoked", "guest_invitation", invitation_id, by
            )

    async def guests(self, host: Principal) -> list[Guest]:
        # The platform path, for this tenant only: its guests are identities of other apps than
        # the administrator's, which the administrator's context does not show. Where the
        # tenant lives.
        async with self._db.platform_transaction(tenant_id=host.tenant_id) as tx:
            await _require(tx, host)
            return await guests.list_guests(tx, host.tenant_id)

    async def remove(self, host: Principal, user_id: UUID, *, by: Actor) -> None:
        """End a guest's visit: out of every group, deactivated (sessions and tokens end). The
        identity and its trail stay; the host may invite the person again."""
        async with self._db.platform_transaction(tenant_id=host.tenant_id) as tx:  # as `guests`
            await _require(tx, host)
            app_id = await guests.guest_app(tx, host.tenant_id, user_id)
            if app_id is None:
                raise NotFound("no such guest")
            user = await self._users.identity_in(tx, host.tenant_id, app_id, user_id)
            assert user is not None  # the marker's foreign key keeps its identity
            await guests.leave_groups(tx, host.tenant_id, user_id)
            if user.status == "active":
                await self._users.set_active_in(
                    tx, host.tenant_id, app_id, user_id, active=False, by=by,
                    reason="guest removed",
                )  # fmt: skip
            await record(tx, host, "guest.removed", "app_user", user_id, by)
            await notify_in(tx, str(host.tenant_id))

    # The guest's side ------------------------------------------------------------------------

    async def accept(self, home: Principal, code: str) -> tuple[UUID, UUID]:
        """Accept an invitation as `home`, the person's own session in their home tenant for the
        invited app. Answers the host tenant and the guest identity there."""
        if home.credential is not Credential.ACCESS_TOKEN or home.acting is not None:
            raise InvalidInput("accept an invitation from your own signed-in session")
        parsed = parse_token(code, TokenKind.ONE_TIME)
        if parsed is None:
            raise GuestInvitationNotFound("no such invitation")
        host_id = parsed.tenant_id
        async with self._db.platform_transaction() as tx:
            invitation = await guests.take_invitation(tx, host_id, parsed.hash)
            if invitation is None or invitation.guest_app_id != home.app_id:
                raise GuestInvitationNotFound("no such invitation")
            _open(invitation)
            if host_id == home.tenant_id:
                raise InvalidInput("a guest comes from another tenant")
            me = await self._users.identity_in(tx, home.tenant_id, home.app_id, home.app_user_id)
            if (
                me is None
                or me.status != "active"
                or me.email_proven_at is None
                or me.email.strip().lower() != invitation.email_normalized
            ):
                raise InvalidInput(
                    "accept the invitation signed in as the address it was sent to, once "
                    "Tenantry has verified that address"
                )
            host_policy = await policies.get_policy(tx, host_id)
            home_policy = await policies.get_policy(tx, home.tenant_id)
            if not host_policy.admits(home.app_id):
                raise InsufficientPrivilege("that tenant no longer admits guests in this app")
            if not home_policy.lets_out(home.app_id):
                raise InsufficientPrivilege("your tenant does not let its users be guests")
            user = await self._users.add_guest_in(
                tx, host_id, home.app_id, invitation.email, me.display_name
            )
            await guests.admit(tx, host_id, home.app_id, user.id, home.tenant_id, me.id)
            await groups.add_member(tx, host_id, invitation.group_id, home.app_id, user.id)
            await guests.mark_accepted(tx, host_id, invitation.id, user.id)
            # Each tenant's trail says what happened on its side, naming nothing of the other.
            await AuditLog.record_in(
                tx, tenant_id=host_id, action="guest.admitted", object_type="app_user",
                object_id=user.id, by=Actor("guest-invitation", str(invitation.id)),
                app_id=home.app_id, metadata={"group_id": str(invitation.group_id)},
            )  # fmt: skip
            await AuditLog.record_in(
                tx, tenant_id=home.tenant_id, action="user.became_guest",
                object_type="app_user", object_id=me.id, by=home.actor, app_id=home.app_id,
            )  # fmt: skip
            await notify_in(tx, str(host_id))
        return host_id, user.id

    # Both tenants, kept in agreement ---------------------------------------------------------

    async def follow_in(self, tx: Transaction, tenant_id: UUID) -> None:
        """Bring every guest hosted by, or coming from, `tenant_id` in line with both tenants'
        current decisions, in the caller's (platform) transaction."""
        for guest in await guests.links_touching(tx, tenant_id):
            active = guest.status == "active"
            if active == guest.allowed:
                continue
            if not active and guest.deactivated_by != str(POLICY):
                continue  # deactivated by someone else: theirs to undo
            await self._users.set_active_in(
                tx, guest.tenant_id, guest.app_id, guest.app_user_id, active=guest.allowed,
                by=POLICY,
                reason=None if guest.allowed else "a tenant no longer allows this guest",
            )  # fmt: skip
            await AuditLog.record_in(
                tx, tenant_id=guest.tenant_id,
                action="guest.resumed" if guest.allowed else "guest.suspended",
                object_type="app_user", object_id=guest.app_user_id, by=POLICY,
                app_id=guest.app_id,
            )  # fmt: skip
        await guests.forget_purged_homes(tx, tenant_id)

    async def follow(self, tenant_id: UUID) -> None:
        async with self._db.platform_transaction() as tx:
            await self.follow_in(tx, tenant_id)


async def _require(tx: Transaction, host: Principal) -> None:
    held = await holdings_in(tx, host, host.app_id)
    if MANAGE not in held.tenant_wide:
        raise InsufficientPrivilege(f"this needs {MANAGE} for the whole tenant")


def _open(invitation: GuestInvitation) -> None:
    if invitation.accepted_at is not None:
        raise GuestInvitationClosed("this invitation has already been accepted")
    if invitation.revoked_at is not None:
        raise GuestInvitationClosed("this invitation was revoked")
    if invitation.expired:
        raise GuestInvitationClosed("this invitation has expired; ask for a new one")
