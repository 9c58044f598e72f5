"""Evaluating a flag for one tenant and app: deterministic, so every process agrees."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from tenantry.kit import jsonvalue
from tenantry.kit.errors import InvalidInput

if TYPE_CHECKING:
    from uuid import UUID


def bucket(flag_key: str, tenant_id: UUID) -> int:
    """0 to 99, stable per flag and tenant: a rollout to N% picks the same tenants everywhere, and
    raising N only adds tenants."""
    digest = hashlib.sha256(f"{flag_key}:{tenant_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100


def check_value(flag_type: str, value: Any) -> None:  # noqa: ANN401 - JSON values
    valid = {
        "boolean": isinstance(value, bool),
        "string": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "json": True,
    }.get(flag_type)
    if valid is None:
        raise InvalidInput(f"unknown flag type {flag_type!r}")
    if not valid:
        raise InvalidInput(f"value must be a {flag_type}")
    jsonvalue.check(value)


def effective(
    flag_key: str,
    default: Any,  # noqa: ANN401 - JSON values
    overrides: list[dict[str, Any]],
    tenant_id: UUID,
    app_id: UUID | None,
) -> Any:  # noqa: ANN401 - JSON values
    """An app-specific override beats the tenant-wide one; a rollout applies its value to the
    tenants whose bucket falls below the percentage and the default to the others."""
    chosen = None
    for override in overrides:
        override_app = override.get("app_id")
        if override_app is not None and str(override_app) == str(app_id):
            chosen = override
            break
        if override_app is None:
            chosen = override
    if chosen is None:
        return default
    percent = chosen.get("rollout_percent")
    if percent is not None and bucket(flag_key, tenant_id) >= percent:
        return default
    return chosen["value"]
