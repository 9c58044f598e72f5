"""The pool attacks of `tests/isolation/test_pool_reuse.py` on a distributed database: tenants
interleaved on a small pool, a failed transaction leaving no context behind, reads seeing
exactly their context and failing their requirements."""

from __future__ import annotations

import pytest

from tests.isolation.test_pool_reuse import *  # noqa: F403 - the same attacks, collected here
from tests.support.citus import citus_url

pytestmark = [
    pytest.mark.citus,
    pytest.mark.skipif(
        citus_url() is None, reason="no Citus cluster: run `make citus` or set TENANTRY_CITUS_URL"
    ),
]
