"""Two tenants, two apps each, real rows: the ground every isolation test attacks from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantry.kit.ids import uuid7
from tests.isolation.world import World, build_world
from tests.support.wiring import services_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tenantry.kit.db import Database


@pytest.fixture(scope="session")
async def world(db: Database) -> World:
    suffix = uuid7().hex[-8:]
    return await build_world(services_for(db), (f"a-{suffix}", f"b-{suffix}"))


@pytest.fixture
def runtime(urls) -> Iterator[psycopg.Connection[dict]]:  # type: ignore[no-untyped-def]
    """A raw runtime-role connection, as any SQL running in a request would have."""
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        yield conn
