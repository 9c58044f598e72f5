"""The runtime-role attack battery of `tests/isolation/test_runtime_attacks.py`, run as it is
against a distributed database: every statement's policies run on the workers' shards, with
the context Citus forwarded (`tests/isolation/world.apply` sets it with a `SET LOCAL`)."""

from __future__ import annotations

import pytest

from tests.isolation.test_runtime_attacks import *  # noqa: F403 - the same attacks, collected here
from tests.support.citus import citus_url

pytestmark = [
    pytest.mark.citus,
    pytest.mark.skipif(
        citus_url() is None, reason="no Citus cluster: run `make citus` or set TENANTRY_CITUS_URL"
    ),
    pytest.mark.usefixtures("world"),
]
