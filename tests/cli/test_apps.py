"""`tenantry apps …`: listing apps and rotating and retiring their signing keys."""

from __future__ import annotations

import json

from tests.support.cli import tenantry


def test_app_key_rotation_cli(scratch_urls) -> None:
    listed = json.loads(tenantry(scratch_urls, "apps", "list", "--json").stdout)
    # A fresh database: the apps the first migration seeds.
    assert {a["slug"] for a in listed} == {
        "thinktank",
        "launchboard",
        "alwaysme",
        "mechanicalmaker",
        "admin",
    }
    rotated = tenantry(scratch_urls, "apps", "rotate-key", "alwaysme")
    assert rotated.returncode == 0, rotated.stderr
    first = tenantry(scratch_urls, "apps", "rotate-key", "alwaysme")
    assert first.returncode == 0
    keys = next(
        a
        for a in json.loads(tenantry(scratch_urls, "apps", "list", "--json").stdout)
        if a["slug"] == "alwaysme"
    )
    oldest, newest = keys["signing keys (oldest first)"].split()
    assert tenantry(scratch_urls, "apps", "retire-key", oldest).returncode == 0
    last = tenantry(scratch_urls, "apps", "retire-key", newest)
    assert last.returncode == 1
    assert "last active key" in last.stderr
    assert (
        tenantry(scratch_urls, "apps", "rotate-key", "nope").stderr.strip()
        == "error: no app 'nope'"
    )
