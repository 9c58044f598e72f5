"""`tests/isolation/test_model.py` against a distributed database: random reads and writes by
random tenants and apps, as the runtime role, checked against a model on the workers' shards."""

from __future__ import annotations

import pytest

from tests.isolation.test_model import *  # noqa: F403 - the same test, collected here
from tests.support.citus import citus_url

pytestmark = [
    pytest.mark.citus,
    pytest.mark.skipif(
        citus_url() is None, reason="no Citus cluster: run `make citus` or set TENANTRY_CITUS_URL"
    ),
]
