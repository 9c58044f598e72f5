"""`tenantry secrets`: the master key file, set and get through standard input and output, and
rotate-master rewrapping under a new key version while every value still reads."""

from __future__ import annotations

import stat

from tenantry.secrets.keys import FILE_VARIABLE, KEY_VARIABLE, LocalMasterKeys, parse_keys
from tests.support.accounts import make_tenant
from tests.support.cli import tenantry


async def test_master_key_file_set_get_and_rotate_master(db, urls, tmp_path, monkeypatch) -> None:
    key_path = tmp_path / "master.key"
    monkeypatch.setenv(FILE_VARIABLE, str(key_path))
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    made = tenantry(urls, "secrets", "init-master")
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    again = tenantry(urls, "secrets", "init-master")
    assert again.returncode == 1
    assert "exists already" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1

    tenant = await make_tenant(db, "thinktank")
    where = ("--tenant", tenant.slug, "--app", "thinktank")
    stored = tenantry(urls, "secrets", "set", "api", *where, "--reason", "r", stdin="v4lue\n")
    assert stored.returncode == 0, stored.stderr
    assert "v4lue" not in stored.stdout + stored.stderr
    got = tenantry(urls, "secrets", "get", "api", *where, "--reason", "check")
    assert got.stdout == "v4lue\n"
    listed = tenantry(urls, "secrets", "list", *where, "--json")
    assert '"name": "api"' in listed.stdout
    assert "v4lue" not in listed.stdout
    missing = tenantry(urls, "secrets", "get", "nope", *where, "--reason", "x")
    assert missing.returncode == 1
    assert "no secret" in missing.stderr

    rotated = tenantry(urls, "secrets", "rotate-master")
    assert "v4lue" not in rotated.stdout + rotated.stderr
    new_id = LocalMasterKeys(parse_keys(key_path.read_text())).current_id
    assert len(parse_keys(key_path.read_text())) == 2
    assert f"under master key {new_id}" in rotated.stdout
    state = tenantry(urls, "secrets", "status", "--tenant", tenant.slug, "--json")
    assert new_id in state.stdout
    assert tenantry(urls, "secrets", "get", "api", *where, "--reason", "after").stdout == "v4lue\n"
