"""A tenant archive between two Citus databases: exported from one (the tenant filled through
the product's flows), imported into another with its ids, passwords, audit trail and secrets,
as `tests/placements/test_archives.py` does between two single servers."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from tenantry.citus import service
from tenantry.kit import migrate
from tenantry.kit.dsn import as_role
from tests.placements.conftest import exported  # noqa: F401 - the same tenant, on Citus
from tests.placements.test_archives import (  # noqa: F401 - the same test and service fixture
    other_app,
    test_a_tenant_moves_to_another_installation_whole,
)
from tests.support.citus import citus_database, citus_url
from tests.support.database import ROLES, RUN, Urls

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [
    pytest.mark.citus,
    pytest.mark.skipif(
        citus_url() is None, reason="no Citus cluster: run `make citus` or set TENANTRY_CITUS_URL"
    ),
]


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Urls]:
    """Another installation on the cluster: migrated from scratch and distributed."""
    url = citus_url()
    assert url is not None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with citus_database(url, f"{RUN}_citus_elsewhere_{worker}") as admin:
        migrate.upgrade(admin, ROLES)
        service.distribute(admin, ROLES)
        yield Urls(admin, as_role(admin, ROLES.runtime), as_role(admin, ROLES.platform))
