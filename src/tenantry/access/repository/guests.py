"""Guests: the host's marker (read in the host's context), the host's invitations, and the
platform-only link to the home identity (`admit`, `take_invitation`, `mark_accepted`, `home_of`
and `links_touching` run on the platform path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.models import Guest, GuestInvitation, GuestStanding
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction


async def admit(
    tx: Transaction,
    host_tenant_id: UUID,
    app_id: UUID,
    host_user_id: UUID,
    home_tenant_id: UUID,
    home_user_id: UUID,
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.guests (tenant_id, id, guest_app_id, app_user_id)
           VALUES (%s, %s, %s, %s)""",
        [host_tenant_id, uuid7(), app_id, host_user_id],
    )
    await tx.execute(
        """INSERT INTO tenantry.guest_links
                  (tenant_id, id, guest_app_id, app_user_id, home_tenant_id, home_app_user_id)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        [host_tenant_id, uuid7(), app_id, host_user_id, home_tenant_id, home_user_id],
    )


async def guest_app(tx: Transaction, tenant_id: UUID, user_id: UUID) -> UUID | None:
    """The app of the tenant's guest identity `user_id`; None when it is no guest."""
    row = await tx.fetch_one(
        "SELECT guest_app_id FROM tenantry.guests WHERE tenant_id = %s AND app_user_id = %s",
        [tenant_id, user_id],
    )
    return row["guest_app_id"] if row else None


# Invitations (the host's context) ------------------------------------------------------------

_ISSUED = """id, group_id, guest_app_id, email, email_normalized, invited_by, created_at,
    expires_at, accepted_at, app_user_id, revoked_at"""
_INVITATION = f"{_ISSUED}, expires_at <= now() AS expired"


async def invite(
    tx: Transaction,
    tenant_id: UUID,
    group_id: UUID,
    app_id: UUID,
    email: str,
    token_hash: bytes,
    ttl_seconds: int,
    invited_by: str,
) -> GuestInvitation:
    """A new invitation, or the open one for the same address, group and app with a new token
    and expiry (inviting again resends it)."""
    row = await tx.fetch_one(
        f"""INSERT INTO tenantry.guest_invitations
                   (tenant_id, id, group_id, guest_app_id, email, email_normalized, token_hash,
                    invited_by, expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s))
            ON CONFLICT (tenant_id, group_id, guest_app_id, email_normalized)
               WHERE accepted_at IS NULL AND revoked_at IS NULL
            DO UPDATE SET token_hash = EXCLUDED.token_hash, expires_at = EXCLUDED.expires_at,
                          invited_by = EXCLUDED.invited_by
            RETURNING {_ISSUED}, %s <= 0 AS expired""",
        [
            tenant_id,
            uuid7(),
            group_id,
            app_id,
            email,
            email.strip().lower(),
            token_hash,
            invited_by,
            ttl_seconds,
            ttl_seconds,  # issued now: expired only without time to live (no now() on Citus)
        ],
    )
    assert row is not None
    return GuestInvitation(**row)


async def open_invitations(tx: Transaction, tenant_id: UUID, limit: int) -> list[GuestInvitation]:
    rows = await tx.fetch_all(
        f"""SELECT {_INVITATION} FROM tenantry.guest_invitations
             WHERE tenant_id = %s AND accepted_at IS NULL AND revoked_at IS NULL
               AND expires_at > now()
             ORDER BY created_at DESC LIMIT %s""",
        [tenant_id, limit],
    )
    return [GuestInvitation(**row) for row in rows]


async def revoke_invitation(
    tx: Transaction, tenant_id: UUID, invitation_id: UUID, revoked_by: str
) -> bool:
    cur = await tx.execute(
        """UPDATE tenantry.guest_invitations SET revoked_at = now(), revoked_by = %s
            WHERE tenant_id = %s AND id = %s AND accepted_at IS NULL AND revoked_at IS NULL""",
        [revoked_by, tenant_id, invitation_id],
    )
    return cur.rowcount == 1


async def take_invitation(
    tx: Transaction, tenant_id: UUID, token_hash: bytes
) -> GuestInvitation | None:
    """The invitation of a token, locked until the transaction ends (platform path)."""
    row = await tx.fetch_one(
        f"""SELECT {_INVITATION} FROM tenantry.guest_invitations
             WHERE tenant_id = %s AND token_hash = %s FOR UPDATE""",
        [tenant_id, token_hash],
    )
    return GuestInvitation(**row) if row else None


async def mark_accepted(
    tx: Transaction, tenant_id: UUID, invitation_id: UUID, app_user_id: UUID
) -> None:
    await tx.execute(
        """UPDATE tenantry.guest_invitations SET accepted_at = now(), app_user_id = %s
            WHERE tenant_id = %s AND id = %s""",
        [app_user_id, tenant_id, invitation_id],
    )


# Guests as the host sees them ----------------------------------------------------------------


async def list_guests(tx: Transaction, tenant_id: UUID) -> list[Guest]:
    rows = await tx.fetch_all(
        """SELECT g.app_user_id, g.guest_app_id AS app_id, u.email, u.status, g.created_at,
                  coalesce(array_agg(gr.name ORDER BY gr.name)
                           FILTER (WHERE gr.name IS NOT NULL), '{}') AS groups
             FROM tenantry.guests g
             JOIN tenantry.app_users u
               ON u.tenant_id = g.tenant_id AND u.app_id = g.guest_app_id AND u.id = g.app_user_id
             LEFT JOIN tenantry.group_memberships m
               ON m.tenant_id = g.tenant_id AND m.app_user_id = g.app_user_id
             LEFT JOIN tenantry.groups gr ON gr.tenant_id = m.tenant_id AND gr.id = m.group_id
            WHERE g.tenant_id = %s
            GROUP BY g.app_user_id, g.guest_app_id, u.email, u.status, g.created_at
            ORDER BY u.email""",
        [tenant_id],
    )
    return [Guest(**row) for row in rows]


async def leave_groups(tx: Transaction, tenant_id: UUID, app_user_id: UUID) -> None:
    await tx.execute(
        "DELETE FROM tenantry.group_memberships WHERE tenant_id = %s AND app_user_id = %s",
        [tenant_id, app_user_id],
    )


# Following both tenants' decisions (platform path) --------------------------------------------


async def links_touching(tx: Transaction, tenant_id: UUID) -> list[GuestStanding]:
    """Every guest hosted by, or coming from, the tenant, with whether both tenants still
    allow that guest: the host admits the app, the home lets it out, the home tenant is
    active and the home identity too. The guest identities are locked.

    A link joins two tenants, whose rows a distributed database keeps on different nodes: each
    statement reads one tenant's rows or the links themselves, and locks rows of one tenant."""
    links = await tx.fetch_all(
        """SELECT tenant_id, guest_app_id, app_user_id, home_tenant_id, home_app_user_id
             FROM tenantry.guest_links WHERE tenant_id = %s OR home_tenant_id = %s""",
        [tenant_id, tenant_id],
    )
    if not links:
        return []
    tenants = sorted({link[side] for link in links for side in ("tenant_id", "home_tenant_id")})
    active = {
        row["id"]
        for row in await tx.fetch_all(
            "SELECT id FROM tenantry.tenants WHERE id = ANY(%s) AND status = 'active'", [tenants]
        )
    }
    policies = {
        row["tenant_id"]: row
        for row in await tx.fetch_all(
            """SELECT tenant_id, guests_in, guests_out, guest_apps
                 FROM tenantry.tenant_policies WHERE tenant_id = ANY(%s)""",
            [tenants],
        )
    }
    users: dict[tuple[UUID, UUID], DictRow] = {}
    for tenant in tenants:
        hosted = [link["app_user_id"] for link in links if link["tenant_id"] == tenant]
        homes = [link["home_app_user_id"] for link in links if link["home_tenant_id"] == tenant]
        for ids, lock in ((hosted, " FOR UPDATE"), (homes, "")):
            if ids:
                rows = await tx.fetch_all(
                    "SELECT tenant_id, app_id, id, status, deactivated_by FROM tenantry.app_users"
                    " WHERE tenant_id = %s AND id = ANY(%s) ORDER BY id" + lock,
                    [tenant, ids],
                )
                users.update({(row["tenant_id"], row["id"]): row for row in rows})
    return [
        GuestStanding(
            link["tenant_id"],
            link["guest_app_id"],
            link["app_user_id"],
            users[(link["tenant_id"], link["app_user_id"])]["status"],
            users[(link["tenant_id"], link["app_user_id"])]["deactivated_by"],
            _both_allow(link, policies, active, users),
        )
        for link in links
    ]


def _both_allow(
    link: DictRow,
    policies: dict[UUID, DictRow],
    active: set[UUID],
    users: dict[tuple[UUID, UUID], DictRow],
) -> bool:
    """The host admits the app, the home lets it out, the home tenant and identity are active."""
    app = link["guest_app_id"]
    host = policies.get(link["tenant_id"])
    home_policy = policies.get(link["home_tenant_id"])
    home = users.get((link["home_tenant_id"], link["home_app_user_id"]))
    return bool(
        host is not None
        and host["guests_in"]
        and app in host["guest_apps"]
        and home_policy is not None
        and home_policy["guests_out"]
        and app in home_policy["guest_apps"]
        and link["home_tenant_id"] in active
        and home is not None
        and home["app_id"] == app
        and home["status"] == "active"
    )


async def forget_purged_homes(tx: Transaction, tenant_id: UUID) -> None:
    """Links to the identities of a purged home tenant: nothing of it stays in other tenants."""
    await tx.execute(
        """DELETE FROM tenantry.guest_links l USING tenantry.tenants t
            WHERE l.home_tenant_id = %s AND t.id = l.home_tenant_id AND t.status = 'purged'""",
        [tenant_id],
    )
