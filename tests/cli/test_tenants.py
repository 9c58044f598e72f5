"""`tenantry tenants …`: create (idempotent), lifecycle, purge, CSV import, list and show."""

from __future__ import annotations

import json

from tests.support.cli import tenantry


def test_tenants_cli_lifecycle(scratch_urls, tmp_path) -> None:
    created = tenantry(
        scratch_urls,
        "tenants",
        "create",
        "cli-co",
        "--name",
        "CLI Co",
        "--admin-email",
        "boss@cli.test",
        "--apps",
        "thinktank,launchboard",
        "--idempotency-key",
        "cli-1",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["created"] is True
    again = tenantry(
        scratch_urls,
        "tenants",
        "create",
        "cli-co",
        "--name",
        "CLI Co",
        "--admin-email",
        "boss@cli.test",
        "--apps",
        "thinktank,launchboard",
        "--idempotency-key",
        "cli-1",
        "--json",
    )
    assert json.loads(again.stdout)["created"] is False
    assert tenantry(scratch_urls, "tenants", "deprovision", "cli-co", "-r", "x").returncode == 1
    assert (
        "cannot deprovision a tenant that is active"
        in tenantry(scratch_urls, "tenants", "deprovision", "cli-co", "-r", "x").stderr
    )
    assert tenantry(scratch_urls, "tenants", "suspend", "cli-co", "-r", "unpaid").returncode == 0
    shown = json.loads(tenantry(scratch_urls, "tenants", "show", "cli-co", "--json").stdout)
    assert shown["tenant"]["status"] == "suspended"
    assert [e["reason"] for e in shown["events"]][-1] == "unpaid"
    assert (
        tenantry(scratch_urls, "tenants", "deprovision", "cli-co", "-r", "closed").returncode == 0
    )
    grace = tenantry(scratch_urls, "tenants", "purge", "cli-co", "-r", "gone", "--yes")
    assert grace.returncode == 1
    assert "grace period" in grace.stderr
    purged = tenantry(
        scratch_urls, "tenants", "purge", "cli-co", "-r", "gone", "--yes", "--force", "--json"
    )
    assert purged.returncode == 0, purged.stderr
    assert set(json.loads(purged.stdout)["remaining"].values()) == {0}

    csv_file = tmp_path / "tenants.csv"
    csv_file.write_text(
        "slug,name,admin_email,plan,apps\nbulk-1,Bulk 1,a@b1.test,free,thinktank\nBad Slug,X,x@y.test,free,\nbulk-2,Bulk 2,a@b2.test,business,\n"
    )
    imported = tenantry(scratch_urls, "tenants", "import", str(csv_file))
    assert imported.returncode == 1  # one row was invalid; the others were provisioned
    assert "slug" in imported.stderr
    listing = json.loads(
        tenantry(scratch_urls, "tenants", "list", "--search", "bulk", "--json").stdout
    )
    assert [t["slug"] for t in listing["items"]] == ["bulk-1", "bulk-2"]
    missing = tenantry(scratch_urls, "tenants", "show", "nobody")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: no tenant 'nobody'"
