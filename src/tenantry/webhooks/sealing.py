"""Signing secrets at rest, sealed with the secrets feature's envelope encryption: AES-256-GCM
under the tenant's data key (itself wrapped by the master key, so `tenantry secrets
rotate-master` covers these too), bound to the tenant and to a purpose naming the endpoint and
the version, so a sealed secret copied to another row or tenant does not open."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction
    from tenantry.secrets.box import SecretBox


def _purpose(endpoint_id: UUID, version: int) -> str:
    return f"webhooks.signing-secret:{endpoint_id}:{version}"


class SecretSealer:
    def __init__(self, box: SecretBox) -> None:
        self._box = box

    async def seal_in(
        self, tx: Transaction, tenant_id: UUID, endpoint_id: UUID, version: int, raw: bytes
    ) -> bytes:
        return await self._box.seal_in(tx, tenant_id, None, _purpose(endpoint_id, version), raw)

    async def open_in(
        self, tx: Transaction, tenant_id: UUID, endpoint_id: UUID, version: int, sealed: bytes
    ) -> bytes:
        return await self._box.open_in(tx, tenant_id, None, _purpose(endpoint_id, version), sealed)
