"""`tenantry apps publish|versions|show|route|routes` and a tenant's apps from the terminal:
a bad manifest or config is one readable line and a non-zero exit."""

from __future__ import annotations

import json

from tests.registry.manifests import manifest, new_slug
from tests.support.accounts import make_tenant
from tests.support.cli import tenantry


def _error_line(result) -> str:
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


async def test_publish_route_and_tenant_apps_from_the_cli(urls, db, tmp_path) -> None:
    slug = new_slug()
    file = tmp_path / "manifest.json"
    file.write_text(json.dumps(manifest(slug)))
    published = tenantry(urls, "apps", "publish", str(file))
    assert published.returncode == 0, published.stderr
    assert f"{slug} 1.0.0: published" in published.stdout
    assert "unchanged" in tenantry(urls, "apps", "publish", str(file)).stdout
    file.write_text(json.dumps(manifest(slug, description="changed")))
    assert "already published" in _error_line(tenantry(urls, "apps", "publish", str(file)))
    file.write_text(json.dumps(manifest(slug, "1.1.0", routes=[{"prefix": "nope"}])))
    line = _error_line(tenantry(urls, "apps", "publish", str(file)))
    assert line.startswith("error: invalid manifest at $.routes[0].prefix")
    file.write_text("{not json")
    assert "is not JSON" in _error_line(tenantry(urls, "apps", "publish", str(file)))

    listed = json.loads(tenantry(urls, "apps", "versions", slug, "--json").stdout)
    assert [v["version"] for v in listed] == ["1.0.0"]
    shown = tenantry(urls, "apps", "show", slug)
    assert json.loads(shown.stdout.split("\n# ")[0])["slug"] == slug
    routed = tenantry(
        urls,
        "apps",
        "route",
        slug,
        "1.0.0",
        "/reports",
        "http://127.0.0.1:9",
        "--timeout-ms",
        "250",
    )
    assert routed.returncode == 0, routed.stderr
    routes = json.loads(tenantry(urls, "apps", "routes", slug, "--json").stdout)
    assert routes == [
        {
            "version": "1.0.0",
            "prefix": "/reports",
            "upstream": "http://127.0.0.1:9",
            "timeout ms": 250,
        }
    ]
    assert "declares no route" in _error_line(
        tenantry(urls, "apps", "route", slug, "1.0.0", "/x", "http://127.0.0.1:9")
    )

    tenant = await make_tenant(db, "thinktank")
    enabled = tenantry(urls, "apps", "enable", tenant.slug, slug, "--reason", "trial")
    assert enabled.returncode == 0, enabled.stderr
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"currency": "GBP"}))
    line = _error_line(
        tenantry(urls, "apps", "config", tenant.slug, slug, str(config), "--reason", "x")
    )
    assert line.startswith("error: invalid app config at $.currency")
    config.write_text(json.dumps({"currency": "USD"}))
    assert (
        tenantry(urls, "apps", "config", tenant.slug, slug, str(config), "--reason", "x").returncode
        == 0
    )
    assert "no version '7.0.0'" in _error_line(
        tenantry(urls, "apps", "pin", tenant.slug, slug, "7.0.0", "--reason", "x")
    )
    pinned = tenantry(urls, "apps", "pin", tenant.slug, slug, "1.0.0", "--reason", "hold")
    assert "pinned" in pinned.stdout
    disabled = tenantry(urls, "apps", "disable", tenant.slug, slug, "--reason", "ended")
    assert "disabled" in disabled.stdout
    apps = {
        a["app"]: a
        for a in json.loads(tenantry(urls, "apps", "tenant", tenant.slug, "--json").stdout)
    }
    assert apps[slug]["status"] == "disabled"
    assert apps[slug]["pinned"] == "1.0.0"
    assert json.loads(apps[slug]["config"]) == {"currency": "USD"}
