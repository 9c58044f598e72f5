"""The registry's domain types and problems, named by the edges and the gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenantry.kit.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID


class InvalidManifest(InvalidInput):
    code = "invalid_manifest"


class VersionImmutable(Conflict):
    code = "version_immutable"


class InvalidAppConfig(InvalidInput):
    code = "invalid_app_config"


class InvalidRoute(InvalidInput):
    code = "invalid_route"


@dataclass(frozen=True, slots=True)
class AppSummary:
    """An app of the catalog with its registry columns."""

    id: UUID
    slug: str
    name: str
    vendor: str
    status: str
    description: str
    latest_version: str | None
    manifest_hash: bytes | None


@dataclass(frozen=True, slots=True)
class AppVersion:
    app_id: UUID
    version: str
    manifest: dict[str, Any]
    manifest_hash: bytes
    min_platform_version: str
    published_at: datetime
    published_by: str

    @property
    def hash_hex(self) -> str:
        return self.manifest_hash.hex()


@dataclass(frozen=True, slots=True)
class Publication:
    version: AppVersion
    # "published" or "unchanged" (the same manifest again: idempotent).
    outcome: str
    latest_version: str


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where the gateway sends a request: the tenant's effective version's longest prefix."""

    version: str
    prefix: str
    upstream: str
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class Route:
    version: str
    prefix: str
    upstream: str
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class TenantApp:
    """An app a tenant has: enabled or disabled, pinned or following the latest version."""

    app_id: UUID
    slug: str
    name: str
    status: str
    pinned_version: str | None
    latest_version: str | None
    config: dict[str, Any]
    config_revision: int
    enabled_at: datetime
    updated_at: datetime

    @property
    def effective_version(self) -> str | None:
        return self.pinned_version or self.latest_version


@dataclass(frozen=True, slots=True)
class TenantAppChange:
    revision: int
    status: str
    pinned_version: str | None
    config: dict[str, Any]
    changed_by: str
    reason: str
    changed_at: datetime
