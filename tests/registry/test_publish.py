"""Publishing manifests: validated (the JSON path of the first error), hashed, immutable,
idempotent, privileges registered, backports that leave `latest_version` alone, and the five
seed apps published by the migration."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import psycopg
import pytest

from tenantry.registry.manifest import canonical_json, semver_key
from tests.registry.manifests import manifest, new_slug


async def _publish(client, operator, document, slug=None):
    return await client.post(
        f"/v1/platform/apps/{slug or document['slug']}/versions",
        headers=operator.auth,
        json=document,
    )


async def test_publish_is_idempotent_and_versions_are_immutable(
    control_client, operator, db
) -> None:
    slug = new_slug()
    document = manifest(slug)
    first = await _publish(control_client, operator, document)
    assert first.status_code == 201, first.text
    digest = hashlib.sha256(canonical_json(document)).hexdigest()
    assert first.json()["manifest_hash"] == digest
    assert first.json()["outcome"] == "published"
    # Key order and whitespace do not matter: the hash is over the canonical form.
    reordered = json.loads(json.dumps(document, sort_keys=True, indent=3))
    again = await _publish(control_client, operator, dict(reversed(list(reordered.items()))))
    assert again.status_code == 200
    assert again.json()["outcome"] == "unchanged"
    changed = await _publish(control_client, operator, manifest(slug, description="different"))
    assert changed.status_code == 409
    assert changed.json()["code"] == "version_immutable"
    shown = await control_client.get(
        f"/v1/platform/apps/{slug}/versions/1.0.0", headers=operator.auth
    )
    assert shown.json()["manifest"] == document
    assert shown.json()["manifest_hash"] == digest
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT vendor, latest_version FROM tenantry.apps WHERE slug = %s", [slug]
        )
        privilege = await tx.fetch_one(
            "SELECT description FROM tenantry.privileges WHERE key = %s", [f"{slug}.reports.read"]
        )
    assert row == {"vendor": "Acme", "latest_version": "1.0.0"}
    assert privilege == {"description": "Read reports"}


async def test_the_database_refuses_to_rewrite_a_version(db) -> None:
    async with db.platform_pool.connection() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute("UPDATE tenantry.app_versions SET published_by = 'me'")
        await conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute("DELETE FROM tenantry.app_versions")
        await conn.rollback()


async def test_backports_leave_latest_at_the_highest_version(control_client, operator) -> None:
    slug = new_slug()
    for version in ("1.0.0", "2.0.0-rc.1", "2.0.0", "1.1.0"):
        response = await _publish(control_client, operator, manifest(slug, version))
        assert response.status_code == 201, response.text
    assert response.json()["latest_version"] == "2.0.0"
    listed = await control_client.get(f"/v1/platform/apps/{slug}/versions", headers=operator.auth)
    assert [v["version"] for v in listed.json()] == ["2.0.0", "2.0.0-rc.1", "1.1.0", "1.0.0"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"version": "1.0"}, "$.version"),
        ({"routes": [{"prefix": "reports"}]}, "$.routes[0].prefix"),
        (
            {"privileges": [{"key": "other.reports.read", "description": "x"}]},
            "$.privileges[0].key",
        ),
        ({"settings_schema": {"type": "nonsense"}}, "$.settings_schema"),
        ({"settings_schema": {"type": "object", "required": ["currency"]}}, "$.settings_schema"),
        ({"settings_schema": {"$ref": "https://example.com/s.json"}}, "$.settings_schema"),
        ({"min_platform_version": "99.0.0"}, "$.min_platform_version"),
        ({"surprise": True}, "$"),
    ],
)
async def test_invalid_manifests_name_the_first_error(
    control_client, operator, change, path
) -> None:
    slug = new_slug()
    response = await _publish(control_client, operator, manifest(slug, **change), slug)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_manifest"
    assert f"at {path}" in body["detail"]


def test_semantic_version_precedence() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.10.0",
        "2.0.0",
    ]
    shuffled = ordered[::-1]
    assert sorted(shuffled, key=semver_key) == ordered


async def test_the_seed_apps_are_published(control_client, operator) -> None:
    folder = resources.files("tenantry.registry") / "manifests"
    for slug in ("thinktank", "launchboard", "alwaysme", "mechanicalmaker", "admin"):
        document = json.loads((folder / f"{slug}.json").read_text())
        shown = await control_client.get(
            f"/v1/platform/apps/{slug}/versions/1.0.0", headers=operator.auth
        )
        assert shown.status_code == 200, shown.text
        assert shown.json()["manifest_hash"] == hashlib.sha256(canonical_json(document)).hexdigest()
        again = await _publish(control_client, operator, document)
        assert again.json()["outcome"] == "unchanged"


async def test_platform_routes_are_for_platform_administrators(client, admin) -> None:
    response = await client.get("/v1/platform/apps/thinktank/versions", headers=admin.auth)
    assert response.status_code == 404
