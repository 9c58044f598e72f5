"""External issuers an app trusts, and the external identities linked to its users."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.models import ExternalIssuer
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.identity.models import AppUser
    from tenantry.kit.db import Transaction


async def add_external_issuer(
    tx: Transaction, tenant_id: UUID, app_id: UUID, issuer: str, audience: str, jwks_uri: str
) -> ExternalIssuer:
    row = await tx.fetch_one(
        """INSERT INTO tenantry.external_issuers (tenant_id, app_id, id, issuer, audience, jwks_uri)
           VALUES (%s, %s, %s, %s, %s, %s)
           RETURNING id, issuer, audience, jwks_uri, algorithms""",
        [tenant_id, app_id, uuid7(), issuer, audience, jwks_uri],
    )
    assert row is not None
    return ExternalIssuer(**row)


async def get_external_issuer(
    tx: Transaction, tenant_id: UUID, app_id: UUID, issuer: str
) -> ExternalIssuer | None:
    row = await tx.fetch_one(
        """SELECT id, issuer, audience, jwks_uri, algorithms FROM tenantry.external_issuers
            WHERE tenant_id = %s AND app_id = %s AND issuer = %s""",
        [tenant_id, app_id, issuer],
    )
    return ExternalIssuer(**row) if row else None


async def linked_user(
    tx: Transaction, tenant_id: UUID, app_id: UUID, issuer: str, subject: str
) -> UUID | None:
    row = await tx.fetch_one(
        """SELECT app_user_id FROM tenantry.user_identity_links
            WHERE tenant_id = %s AND app_id = %s AND issuer = %s AND subject = %s""",
        [tenant_id, app_id, issuer, subject],
    )
    return row["app_user_id"] if row else None


async def link_identity(tx: Transaction, user: AppUser, issuer: str, subject: str) -> None:
    await tx.execute(
        """INSERT INTO tenantry.user_identity_links
               (tenant_id, app_id, id, app_user_id, issuer, subject)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        [user.tenant_id, user.app_id, uuid7(), user.id, issuer, subject],
    )
