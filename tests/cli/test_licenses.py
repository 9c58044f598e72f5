"""`tenantry licenses …`: keys rotated and exported, a licence issued to a file, verified
offline against the exported keys (a tampered copy exits 1 with one line), imported, listed,
revoked, and seat usage reported."""

from __future__ import annotations

import json

from tests.support.cli import tenantry


def test_licence_lifecycle_from_the_command_line(scratch_urls, tmp_path) -> None:
    provisioned = tenantry(
        scratch_urls,
        "tenants",
        "create",
        "acme",
        "--name",
        "Acme",
        "--apps",
        "thinktank",
        "--admin-email",
        "boss@acme.test",
    )
    assert provisioned.returncode == 0, provisioned.stderr
    no_key = tenantry(scratch_urls, "licenses", "issue", "acme", "thinktank", "--plan", "pro")
    assert no_key.returncode == 1
    assert "keys rotate" in no_key.stderr
    assert tenantry(scratch_urls, "licenses", "keys", "rotate").returncode == 0
    keys = tmp_path / "keys.json"
    exported = tenantry(scratch_urls, "licenses", "keys", "export-public")
    assert exported.returncode == 0, exported.stderr
    keys.write_text(exported.stdout)
    assert "PRIVATE" not in exported.stdout

    file = tmp_path / "acme.json"
    issued = tenantry(
        scratch_urls,
        "licenses",
        "issue",
        "acme",
        "thinktank",
        "--plan",
        "pro",
        "--seats",
        "3",
        "--feature",
        "reports",
        "--feature",
        "sso",
        "--limit",
        "boards=10",
        "--days",
        "30",
        "--grace-days",
        "5",
        "--out",
        str(file),
    )
    assert issued.returncode == 0, issued.stderr
    verified = tenantry(scratch_urls, "licenses", "verify", str(file), "--keys", str(keys))
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("valid: licence ")
    assert "acme/thinktank, plan pro, 3 seats" in verified.stdout

    document = json.loads(file.read_text())
    document["payload"] = document["payload"][:-2] + "xx"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    refused = tenantry(scratch_urls, "licenses", "verify", str(tampered), "--keys", str(keys))
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith("error: licence refused (")
    assert len(refused.stderr.strip().splitlines()) == 1

    imported = tenantry(scratch_urls, "licenses", "import", str(file))
    assert imported.returncode == 0, imported.stderr
    listed = json.loads(tenantry(scratch_urls, "licenses", "list", "acme", "--json").stdout)
    assert [(entry["plan"], entry["status"]) for entry in listed] == [("pro", "issued")]
    usage = json.loads(tenantry(scratch_urls, "licenses", "usage", "acme", "--json").stdout)
    assert [(u["app"], u["used"], u["seats"], u["state"]) for u in usage] == [
        ("thinktank", 0, 3, "valid")
    ]
    revoked = tenantry(scratch_urls, "licenses", "revoke", listed[0]["id"], "--reason", "ended")
    assert revoked.returncode == 0, revoked.stderr
    usage = json.loads(tenantry(scratch_urls, "licenses", "usage", "--json").stdout)
    assert usage[0]["state"] == "blocked"
