"""Domain types of secrets that other packages and the edges name. Never a value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.kit.errors import Conflict, NotFound

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID


class SecretNotFound(NotFound):
    code = "secret_not_found"


class SecretDisabled(Conflict):
    code = "secret_disabled"


class SecretUnreadable(Conflict):
    """A stored ciphertext did not decrypt: it was moved or altered, or its key is gone."""

    code = "secret_unreadable"


@dataclass(frozen=True, slots=True)
class SecretScope:
    """Whose secrets: a tenant and one of its apps."""

    tenant_id: UUID
    app_id: UUID


@dataclass(frozen=True, slots=True)
class SecretInfo:
    id: UUID
    app_id: UUID
    name: str
    current_version: int
    versions: int
    status: str
    created_at: datetime
    rotated_at: datetime


@dataclass(frozen=True, slots=True)
class AccessEntry:
    id: UUID
    app_id: UUID
    secret_name: str
    version: int | None
    action: str
    actor: str
    principal: str
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DataKeyInfo:
    tenant_id: UUID
    version: int
    master_key_id: str
    created_at: datetime
    rewrapped_at: datetime | None
    retired_at: datetime | None
