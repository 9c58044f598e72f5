"""Rows in every conversations table for the isolation suites, made through the API."""

from __future__ import annotations


async def populate(client, control_app, tenant, user) -> None:
    """Fill every conversations table for `tenant` (`user` is a signed-in thinktank user)."""
