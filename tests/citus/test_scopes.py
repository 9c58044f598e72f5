"""The scope attacks of `tests/isolation/test_scopes.py` on a distributed database: an app
sees its rows and the tenant-wide ones, cross-app reads stay in the tenant and off
credentials, writes stay in the context's own scope. (The single server's plan-shape test,
one init plan per statement, has its Citus counterpart in `benchmarks/citus_point_read.py`.)"""

from __future__ import annotations

import pytest

from tests.isolation.test_scopes import (  # the same attacks, collected here
    events,  # noqa: F401 - a fixture of the tests below
    test_a_cross_app_reader_sees_every_app_of_its_tenant_only,  # noqa: F401
    test_an_app_sees_its_rows_and_the_tenant_wide_ones_only,  # noqa: F401
    test_cross_app_reads_are_declared_per_table,  # noqa: F401
    test_cross_app_reads_never_reach_credentials,  # noqa: F401
    test_one_permissive_policy_per_role_and_command,  # noqa: F401
    test_writes_stay_in_the_contexts_own_scope,  # noqa: F401
)
from tests.support.citus import citus_url

pytestmark = [
    pytest.mark.citus,
    pytest.mark.skipif(
        citus_url() is None, reason="no Citus cluster: run `make citus` or set TENANTRY_CITUS_URL"
    ),
]
