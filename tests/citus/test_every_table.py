"""`tests/isolation/test_every_table.py` against a distributed database: every tenant table
filled through the product's own flows (HTTP API and services) on Citus, then attacked as the
runtime role on the workers' shards with the context Citus forwarded."""

from __future__ import annotations

import pytest

from tests.isolation.test_every_table import *  # noqa: F403 - the same test, collected here
from tests.support.citus import citus_url

pytestmark = [
    pytest.mark.citus,
    pytest.mark.skipif(
        citus_url() is None, reason="no Citus cluster: run `make citus` or set TENANTRY_CITUS_URL"
    ),
]
