"""The apps catalog (vendor, versions, a version's manifest and hash) and a tenant's apps on
its page: disable and enable, pin, edit the config; a refused change shows the reason."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

from tenantry.registry.manifest import canonical_json
from tests.admin.stage import signed_in_client


def test_catalog_shows_versions_and_manifests(stage) -> None:
    client, _ = signed_in_client(stage)
    try:
        catalog = client.get("/admin/apps")
        assert catalog.status_code == 200
        assert "Tenantry" in catalog.text
        assert 'href="/admin/apps/thinktank/versions/1.0.0"' in catalog.text
        page = client.get("/admin/apps/thinktank/versions/1.0.0")
        assert page.status_code == 200
        document = json.loads(
            (resources.files("tenantry.registry") / "manifests" / "thinktank.json").read_text()
        )
        digest = hashlib.sha256(canonical_json(document)).hexdigest()
        assert f'<code id="manifest-hash">{digest}</code>' in page.text
        assert "thinktank.workspaces.manage" in page.text
        assert client.get("/admin/apps/thinktank").status_code == 200
        assert client.get("/admin/apps/nope").status_code == 404
    finally:
        client.close()


def test_tenant_page_changes_an_apps_status_pin_and_config(stage) -> None:
    client, token = signed_in_client(stage)
    url = f"/admin/tenants/{stage.tenant}"
    try:
        page = client.get(url)
        assert 'id="app-thinktank"' in page.text
        forged = client.post(
            f"{url}/apps/disable", data={"csrf": "forged", "app": "thinktank", "reason": "x"}
        )
        assert forged.status_code == 403
        disabled = client.post(
            f"{url}/apps/disable", data={"csrf": token, "app": "launchboard", "reason": "unpaid"}
        )
        assert disabled.status_code == 303, disabled.text
        assert "disabled" in client.get(url).text
        enabled = client.post(
            f"{url}/apps/enable", data={"csrf": token, "app": "launchboard", "reason": "paid"}
        )
        assert enabled.status_code == 303
        bad = client.post(
            f"{url}/apps/config",
            data={
                "csrf": token,
                "app": "thinktank",
                "config": '{"max_workspaces": 0}',
                "reason": "x",
            },
        )
        assert bad.status_code == 422
        assert "invalid app config at $.max_workspaces" in bad.text
        assert "{&#34;max_workspaces&#34;: 0}" in bad.text  # the input comes back to be fixed
        good = client.post(
            f"{url}/apps/config",
            data={
                "csrf": token,
                "app": "thinktank",
                "config": '{"max_workspaces": 5}',
                "reason": "x",
            },
        )
        assert good.status_code == 303
        pinned = client.post(
            f"{url}/apps/pin",
            data={"csrf": token, "app": "thinktank", "version": "1.0.0", "reason": "hold"},
        )
        assert pinned.status_code == 303
        page = client.get(url).text
        assert "pinned" in page
        assert "max_workspaces" in page
        missing = client.post(
            f"{url}/apps/pin",
            data={"csrf": token, "app": "thinktank", "version": "8.0.0", "reason": "x"},
        )
        assert missing.status_code == 404
        assert "no version" in missing.text
    finally:
        client.close()
