"""App manifests: the JSON Schema check, the rules a schema cannot say, the canonical hash, and
semantic-version precedence. The format is documented in docs/app-manifest.md."""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from importlib import metadata, resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from referencing.exceptions import Unresolvable

from tenantry.registry.models import InvalidAppConfig, InvalidManifest

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$"
)
_MESSAGE_LIMIT = 300


@cache
def manifest_schema() -> dict[str, Any]:
    text = resources.files("tenantry.registry").joinpath("manifest.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(manifest_schema())


def platform_version() -> str:
    """Tenantry's own version, which a manifest's `min_platform_version` is compared with."""
    return metadata.version("tenantry")


def canonical_json(document: object) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes a manifest hash is taken over."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def manifest_hash(manifest: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(manifest)).digest()


def semver_key(version: str) -> tuple[Any, ...]:
    """Precedence per semver.org §11: numbers numerically, a pre-release below its release,
    pre-release identifiers numeric below alphanumeric; build metadata ignored."""
    match = SEMVER.match(version)
    if match is None:
        raise InvalidManifest(f"not a semantic version: {version!r}")
    major, minor, patch, pre = match.groups()
    core = (int(major), int(minor), int(patch))
    if pre is None:
        return (*core, 1, ())
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split(".")
    )
    return (*core, 0, identifiers)


def highest(versions: list[str]) -> str:
    return max(versions, key=semver_key)


def _first_error(validator: Draft202012Validator, instance: object) -> ValidationError | None:
    """The most relevant error, or None; a `$ref` that cannot be resolved (schemas are never
    fetched from the network) is the schema's fault, said as such."""
    try:
        errors = list(validator.iter_errors(instance))
    except Unresolvable as exc:
        raise InvalidManifest(f"invalid manifest at $.settings_schema: unresolvable {exc}") from exc
    return best_match(errors) if errors else None


def _describe(error: ValidationError) -> str:
    message = error.message
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT] + "…"
    return f"{error.json_path}: {message}"


def validate_manifest(document: object, *, platform: str | None = None) -> dict[str, Any]:
    """The manifest if valid; otherwise `InvalidManifest` naming the JSON path of the first
    error (`$.routes[0].prefix: …`)."""
    if not isinstance(document, dict):
        raise InvalidManifest("$: a manifest is a JSON object")
    error = _first_error(_validator(), document)
    if error is not None:
        raise InvalidManifest(f"invalid manifest at {_describe(error)}")
    slug = document["slug"]
    for index, privilege in enumerate(document["privileges"]):
        if not privilege["key"].startswith(f"{slug}."):
            raise InvalidManifest(
                f"invalid manifest at $.privileges[{index}].key: "
                f"an app's privileges are namespaced {slug}.…"
            )
    _unique(document, "privileges", "key")
    _unique(document, "routes", "prefix")
    try:
        Draft202012Validator.check_schema(document["settings_schema"])
    except SchemaError as exc:
        path = exc.json_path.replace("$", "$.settings_schema", 1)
        raise InvalidManifest(f"invalid manifest at {path}: {exc.message}") from exc
    _check_schema_accepts_defaults(document["settings_schema"])
    needed = document["min_platform_version"]
    running = platform or platform_version()
    if semver_key(needed) > semver_key(running):
        raise InvalidManifest(
            f"invalid manifest at $.min_platform_version: needs Tenantry {needed}, "
            f"this platform is {running}"
        )
    return document


def _unique(document: dict[str, Any], field: str, key: str) -> None:
    seen: set[str] = set()
    for index, item in enumerate(document[field]):
        if item[key] in seen:
            raise InvalidManifest(
                f"invalid manifest at $.{field}[{index}].{key}: {item[key]!r} appears twice"
            )
        seen.add(item[key])


def _check_schema_accepts_defaults(schema: dict[str, Any]) -> None:
    """A tenant that never set anything has the config `{}`: the schema must accept it."""
    error = _first_error(Draft202012Validator(schema), {})
    if error is not None:
        raise InvalidManifest(
            f"invalid manifest at $.settings_schema: the empty config {{}} must be valid "
            f"({_describe(error)})"
        )


def validate_config(schema: dict[str, Any], config: object) -> dict[str, Any]:
    """A tenant's app config checked against its effective version's settings schema."""
    if not isinstance(config, dict):
        raise InvalidAppConfig("$: an app config is a JSON object")
    error = _first_error(Draft202012Validator(schema), config)
    if error is not None:
        raise InvalidAppConfig(f"invalid app config at {_describe(error)}")
    return config
