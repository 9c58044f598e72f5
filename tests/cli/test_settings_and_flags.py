"""`tenantry settings …` and `tenantry flags …`: validation, history, overrides, rollback and
deprecation, with errors on one line."""

from __future__ import annotations

import json

from tests.support.cli import tenantry


def test_settings_and_flags_cli(scratch_urls) -> None:
    assert (
        tenantry(
            scratch_urls,
            "tenants",
            "create",
            "cfg-co",
            "--name",
            "Cfg",
            "--admin-email",
            "a@cfg.test",
        ).returncode
        == 0
    )
    bad = tenantry(scratch_urls, "settings", "set", "cfg-co", "max_users", "zero", "-r", "x")
    assert bad.returncode == 1
    assert "invalid value for max_users" in bad.stderr
    assert (
        tenantry(
            scratch_urls, "settings", "set", "cfg-co", "max_users", "77", "-r", "grew"
        ).returncode
        == 0
    )
    assert (
        json.loads(tenantry(scratch_urls, "settings", "show", "cfg-co", "--json").stdout)[
            "max_users"
        ]
        == 77
    )
    history = json.loads(
        tenantry(scratch_urls, "settings", "history", "cfg-co", "max_users", "--json").stdout
    )
    assert [(h["new_value"], h["reason"]) for h in history] == [(77, "grew")]

    assert (
        tenantry(
            scratch_urls,
            "flags",
            "define",
            "cli.beta",
            "--type",
            "boolean",
            "--default",
            "false",
            "-r",
            "new",
        ).returncode
        == 0
    )
    for value, reason in (("true", "pilot"), ("false", "bug")):
        assert (
            tenantry(
                scratch_urls, "flags", "override", "cfg-co", "cli.beta", value, "-r", reason
            ).returncode
            == 0
        )
    assert (
        tenantry(
            scratch_urls, "flags", "rollback", "cfg-co", "cli.beta", "1", "-r", "fixed"
        ).returncode
        == 0
    )
    versions = json.loads(
        tenantry(scratch_urls, "flags", "versions", "cfg-co", "cli.beta", "--json").stdout
    )
    assert [(v["version"], v["value"]) for v in versions] == [(3, True), (2, False), (1, True)]
    wrong = tenantry(scratch_urls, "flags", "override", "cfg-co", "cli.beta", '"yes"', "-r", "x")
    assert wrong.returncode == 1
    assert "must be a boolean" in wrong.stderr
    assert tenantry(scratch_urls, "flags", "deprecate", "cli.beta", "-r", "done").returncode == 0
    listed = json.loads(tenantry(scratch_urls, "flags", "list", "--json").stdout)
    assert [f["status"] for f in listed if f["key"] == "cli.beta"] == ["deprecated"]


def test_cli_refuses_over_deep_json_in_one_line(urls) -> None:
    deep = "[" * 40 + "]" * 40
    result = tenantry(
        urls, "flags", "define", "cli.deep", "--type", "json", "--default", deep, "--reason", "x"
    )
    assert result.returncode == 1
    assert "nested at most 32 levels" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    listed = tenantry(urls, "flags", "list", "--json")
    assert "cli.deep" not in listed.stdout
