"""The one way tests run the `tenantry` command line: as a user runs it, in its own process
(`python -m tenantry.cli`), against a test database. A real process, because the CLI's own
exit codes, one-line errors and stdin handling are what these tests check."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

from tests.support.database import ROLES

if TYPE_CHECKING:
    from tests.support.database import Urls


def tenantry(
    urls: Urls,
    *args: str,
    stdin: str | None = None,
    platform_tenant: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TENANTRY_DATABASE_URL": urls.admin,
        "TENANTRY_ROLE_PREFIX": ROLES.prefix,
        "COLUMNS": "200",
        **(env or {}),
    }
    if platform_tenant is not None:
        env["TENANTRY_PLATFORM_TENANT"] = platform_tenant
    return subprocess.run(
        [sys.executable, "-m", "tenantry.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=timeout,
        check=False,
    )
