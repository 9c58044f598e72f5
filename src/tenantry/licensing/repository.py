"""SQL for licences: signing keys, the licences, their activations, the entitlements snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.types.json import Jsonb

from tenantry.kit.ids import uuid7
from tenantry.licensing.document import assemble
from tenantry.licensing.models import Licence, LicenceKey, StoredLicence

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.context import TenantContext
    from tenantry.kit.db import Database, Transaction


# --- keys ---------------------------------------------------------------------------------


async def insert_key(tx: Transaction, kid: str, public_key: bytes, private_pem: str) -> None:
    await tx.execute(
        "INSERT INTO tenantry.licence_keys (kid, public_key) VALUES (%s, %s)", [kid, public_key]
    )
    await tx.execute(
        "INSERT INTO tenantry_private.licence_signing_keys (kid, private_key) VALUES (%s, %s)",
        [kid, private_pem],
    )


async def keys(tx: Transaction) -> list[LicenceKey]:
    rows = await tx.fetch_all(
        "SELECT kid, public_key, created_at, retired_at FROM tenantry.licence_keys "
        "ORDER BY created_at, kid"
    )
    return [
        LicenceKey(r["kid"], bytes(r["public_key"]), r["created_at"], r["retired_at"]) for r in rows
    ]


async def retire_key(tx: Transaction, kid: str) -> bool:
    row = await tx.fetch_one(
        "UPDATE tenantry.licence_keys SET retired_at = now() "
        "WHERE kid = %s AND retired_at IS NULL RETURNING kid",
        [kid],
    )
    return row is not None


async def newest_signing_key(tx: Transaction) -> tuple[str, str] | None:
    """The newest non-retired key's kid and private key (platform role only)."""
    row = await tx.fetch_one(
        """SELECT k.kid, p.private_key FROM tenantry.licence_keys k
             JOIN tenantry_private.licence_signing_keys p USING (kid)
            WHERE k.retired_at IS NULL ORDER BY k.created_at DESC, k.kid DESC LIMIT 1"""
    )
    return (row["kid"], row["private_key"]) if row else None


# --- licences -----------------------------------------------------------------------------

_LICENCE = """l.id, l.tenant_id, l.tenant_slug, a.slug AS app, l.plan, l.seats, l.features,
              l.limits, l.issued_at, l.valid_from, l.valid_until, l.grace_days, l.issuer, l.kid,
              l.payload, l.signature, l.source, l.status, l.created_at, l.revoked_at,
              l.revoked_by, l.revoked_reason"""
_FROM = "tenantry.licences l JOIN tenantry.apps a ON a.id = l.app_id"


def _stored(row: DictRow) -> StoredLicence:
    licence = Licence(
        id=row["id"],
        tenant_id=row["tenant_id"],
        tenant_slug=row["tenant_slug"],
        app=row["app"],
        plan=row["plan"],
        seats=row["seats"],
        features=tuple(row["features"]),
        limits=dict(row["limits"]),
        issued_at=row["issued_at"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        grace_days=row["grace_days"],
        issuer=row["issuer"],
        kid=row["kid"],
    )
    return StoredLicence(
        licence=licence,
        status=row["status"],
        source=row["source"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        revoked_by=row["revoked_by"],
        revoked_reason=row["revoked_reason"],
        document=assemble(row["kid"], bytes(row["payload"]), bytes(row["signature"])),
    )


async def insert_licence(
    tx: Transaction,
    licence: Licence,
    app_id: UUID,
    payload: bytes,
    signature: bytes,
    source: str,
) -> bool:
    """False when this licence id is already stored (an import of a known file)."""
    row = await tx.fetch_one(
        """INSERT INTO tenantry.licences
               (tenant_id, app_id, id, tenant_slug, plan, seats, features, limits, issued_at,
                valid_from, valid_until, grace_days, issuer, kid, payload, signature, source)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id""",
        [
            licence.tenant_id,
            app_id,
            licence.id,
            licence.tenant_slug,
            licence.plan,
            licence.seats,
            list(licence.features),
            Jsonb(licence.limits),
            licence.issued_at,
            licence.valid_from,
            licence.valid_until,
            licence.grace_days,
            licence.issuer,
            licence.kid,
            payload,
            signature,
            source,
        ],
    )
    return row is not None


async def insert_activation(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    licence_id: UUID,
    source: str,
    by: str,
    sha256: bytes,
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.licence_activations
               (tenant_id, app_id, id, licence_id, source, activated_by, file_sha256)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        [tenant_id, app_id, uuid7(), licence_id, source, by, sha256],
    )


async def set_entitlement(
    tx: Transaction, licence: Licence, app_id: UUID, read_only_until: datetime
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.entitlements
               (tenant_id, app_id, licence_id, plan, seats, features, limits, valid_from,
                valid_until, grace_until, read_only_until, state)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'active')
           ON CONFLICT (tenant_id, app_id) DO UPDATE
              SET licence_id = excluded.licence_id, plan = excluded.plan,
                  seats = excluded.seats, features = excluded.features,
                  limits = excluded.limits, valid_from = excluded.valid_from,
                  valid_until = excluded.valid_until, grace_until = excluded.grace_until,
                  read_only_until = excluded.read_only_until, state = 'active',
                  updated_at = excluded.updated_at""",
        [
            licence.tenant_id,
            app_id,
            licence.id,
            licence.plan,
            licence.seats,
            list(licence.features),
            Jsonb(licence.limits),
            licence.valid_from,
            licence.valid_until,
            licence.grace_until,
            read_only_until,
        ],
    )


async def licences(tx: Transaction, tenant_id: UUID | None = None) -> list[StoredLicence]:
    rows = await tx.fetch_all(
        f"""SELECT {_LICENCE} FROM {_FROM}
             WHERE %(tenant)s::uuid IS NULL OR l.tenant_id = %(tenant)s
             ORDER BY l.created_at DESC, l.id DESC""",
        {"tenant": tenant_id},
    )
    return [_stored(r) for r in rows]


async def licence(tx: Transaction, licence_id: UUID) -> StoredLicence | None:
    row = await tx.fetch_one(f"SELECT {_LICENCE} FROM {_FROM} WHERE l.id = %s", [licence_id])
    return _stored(row) if row else None


async def revoke(tx: Transaction, licence_id: UUID, by: str, reason: str) -> UUID | None:
    """Revoke the licence and, if it is the tenant's current one, its entitlement; the tenant
    id, or None when there is no such issued licence."""
    row = await tx.fetch_one(
        """UPDATE tenantry.licences
              SET status = 'revoked', revoked_at = now(), revoked_by = %s, revoked_reason = %s
            WHERE id = %s AND status = 'issued' RETURNING tenant_id, app_id""",
        [by, reason, licence_id],
    )
    if row is None:
        return None
    await tx.execute(
        """UPDATE tenantry.entitlements SET state = 'revoked', updated_at = now()
            WHERE tenant_id = %s AND app_id = %s AND licence_id = %s""",
        [row["tenant_id"], row["app_id"], licence_id],
    )
    tenant_id: UUID = row["tenant_id"]
    return tenant_id


# --- entitlements -------------------------------------------------------------------------

_ENTITLEMENT = """e.licence_id, e.plan, e.seats, e.features, e.limits, e.valid_from,
                  e.valid_until, e.grace_until, e.read_only_until, e.state"""

# Seats in use: active identities plus open invitations of people who hold no seat yet (the
# count the seat trigger of revision 0016 enforces).
_USAGE = f"""
SELECT t.slug AS tenant, a.slug AS app, {_ENTITLEMENT},
       (SELECT count(*) FROM tenantry.app_users u
         WHERE u.tenant_id = e.tenant_id AND u.app_id = e.app_id AND u.status = 'active')
         AS active_users,
       (SELECT count(*) FROM tenantry.invitations i
         WHERE i.tenant_id = e.tenant_id AND i.app_id = e.app_id
           AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()
           AND NOT EXISTS (SELECT 1 FROM tenantry.app_users u
                            WHERE u.tenant_id = i.tenant_id AND u.app_id = i.app_id
                              AND u.email_normalized = i.email_normalized
                              AND u.status = 'active')) AS open_invitations
  FROM tenantry.entitlements e
  JOIN tenantry.tenants t ON t.id = e.tenant_id
  JOIN tenantry.apps a ON a.id = e.app_id
 WHERE %(tenant)s::uuid IS NULL OR e.tenant_id = %(tenant)s
 ORDER BY t.slug, a.slug"""


async def usage(tx: Transaction, tenant_id: UUID | None) -> list[DictRow]:
    return await tx.fetch_all(_USAGE, {"tenant": tenant_id})


async def entitlement(db: Database, context: TenantContext) -> DictRow | None:
    """The snapshot of the context's tenant and app, in one message as the runtime role."""
    rows = await db.read(
        context,
        f"""SELECT {_ENTITLEMENT} FROM tenantry.entitlements e
             WHERE e.tenant_id = %s AND e.app_id = %s""",
        [context.tenant_id, context.app_id],
    )
    return rows[0] if rows else None
