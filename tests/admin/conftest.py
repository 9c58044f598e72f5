"""A live server with the admin UI and the stage its tests play on (`tests/admin/stage.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tenantry.web import create_app
from tests.admin.stage import PLATFORM, Stage, prepare
from tests.support.live import live_server
from tests.support.wiring import api_settings


@pytest.fixture(scope="module")
def stage(urls) -> Iterator[Stage]:
    with live_server(
        lambda url: create_app(api_settings(urls, public_url=url, platform_tenant=PLATFORM))
    ) as url:
        yield prepare(urls, url)
