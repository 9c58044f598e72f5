"""Installed modules: found through the `tenantry.modules` entry points, named safely."""

from __future__ import annotations

import pytest

from tenantry.kit.errors import ConfigurationError
from tenantry.kit.modules import Module, installed_modules


def test_the_workloads_module_is_installed() -> None:
    modules = {module.name: module for module in installed_modules()}
    workloads = modules["workloads"]
    assert workloads.migrations is not None
    assert (workloads.migrations / "env.py").is_file()
    assert workloads.version_table == "alembic_version_workloads"
    assert len(workloads.routers()) >= 1


@pytest.mark.parametrize("name", ["", "Notes", "my-notes", "1notes", "n" * 41, "notes; drop"])
def test_a_module_name_must_be_able_to_name_a_version_table(name: str) -> None:
    with pytest.raises(ConfigurationError):
        Module(name)
