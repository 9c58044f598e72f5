"""Manifests for registry tests: a fresh app each time, so tests never share a version."""

from __future__ import annotations

import copy
from typing import Any

from tenantry.kit.ids import uuid7


def new_slug() -> str:
    return f"r{uuid7().hex[-9:]}"


def manifest(slug: str, version: str = "1.0.0", **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "slug": slug,
        "name": "Reports",
        "vendor": "Acme",
        "version": version,
        "min_platform_version": "0.1.0",
        "description": "Usage reports",
        "routes": [
            {"prefix": "/reports", "description": "Reports"},
            {"prefix": "/reports/exports", "description": "Exports, served apart"},
        ],
        "privileges": [{"key": f"{slug}.reports.read", "description": "Read reports"}],
        "settings_schema": {
            "type": "object",
            "properties": {
                "currency": {"type": "string", "enum": ["EUR", "USD"]},
                "limits": {
                    "type": "object",
                    "properties": {"rows": {"type": "integer", "minimum": 1}},
                },
            },
            "additionalProperties": False,
        },
        "events": {
            "emits": [{"type": f"{slug}.report.ready", "schema": {"type": "object"}}],
            "consumes": ["tenant.suspended"],
        },
        "entitlements": {"features": [f"{slug}.exports"], "limits": ["seats"]},
    }
    document = copy.deepcopy(document)
    document.update(changes)
    return document
