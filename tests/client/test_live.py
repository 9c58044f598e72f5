"""The generated client against the live app (over ASGI, on the test database): sign-up and
sign-in, the caller's own account, a workload route, and error answers as typed problems."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tenantry.client import ProblemError, TenantryClient
from tenantry.kit.ids import uuid7
from tests.support.http import client_for
from tests.support.wiring import PASSWORD

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

    from tests.support.accounts import Tenant

APP = "thinktank"


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[TenantryClient]:
    async with client_for(app) as http, TenantryClient(http=http) as client:
        yield client


async def signed_in(api: TenantryClient, tenant: Tenant, email: str) -> TenantryClient:
    """Another client on the same connection, with the access token of a new user."""
    accepted = await api.identity.signup(
        APP, {"tenant": tenant.slug, "email": email, "password": PASSWORD}
    )
    assert accepted["status"] == "accepted"
    tokens = await api.identity.login(
        APP, {"tenant": tenant.slug, "email": email, "password": PASSWORD}
    )
    assert tokens["expires_in"] > 0
    return api.with_token(tokens["access_token"])


async def test_sign_in_and_read_ones_own_account(api: TenantryClient, tenant: Tenant) -> None:
    ada = await signed_in(api, tenant, "ada@example.com")
    me = await ada.identity.me(APP)
    assert me["email"] == "ada@example.com"
    assert me["tenant_id"] == str(tenant.id)
    sessions = await ada.identity.sessions(APP)
    assert len(sessions) == 1
    # The client it came from has no token of its own.
    assert api.token is None


async def test_a_workload_route(api: TenantryClient, tenant: Tenant) -> None:
    ada = await signed_in(api, tenant, "ada@example.com")
    chat = await ada.conversations.create_chat(APP, {"title": "Plans"})
    message = await ada.conversations.append_message(
        APP, chat["id"], {"role": "user", "content": "hello"}
    )
    assert (message["chat_id"], message["status"]) == (chat["id"], "complete")
    page = await ada.conversations.list_chats(APP, status="active")
    assert [c["title"] for c in page["items"]] == ["Plans"]
    messages = await ada.conversations.list_messages(APP, chat["id"])
    assert [m["content"] for m in messages["items"]] == ["hello"]
    # Another user of the tenant sees none of it.
    bob = await signed_in(api, tenant, "bob@example.com")
    assert (await bob.conversations.list_chats(APP))["items"] == []
    with pytest.raises(ProblemError) as hidden:
        await bob.conversations.get_chat(APP, chat["id"])
    assert (hidden.value.status, hidden.value.code) == (404, "not_found")


async def test_error_answers_are_typed_problems(api: TenantryClient, tenant: Tenant) -> None:
    with pytest.raises(ProblemError) as anonymous:
        await api.identity.me(APP)
    assert anonymous.value.status == 401
    assert anonymous.value.code == "unauthorized"
    assert anonymous.value.detail
    assert anonymous.value.request_id
    with pytest.raises(ProblemError) as wrong:
        await api.identity.login(
            APP, {"tenant": tenant.slug, "email": "nobody@example.com", "password": PASSWORD}
        )
    assert wrong.value.status == 401
    ada = await signed_in(api, tenant, "ada@example.com")
    with pytest.raises(ProblemError) as missing:
        await ada.conversations.get_chat(APP, uuid7())
    assert missing.value.code == "not_found"
    with pytest.raises(ProblemError) as invalid:
        await ada.conversations.list_chats(APP, limit=0)
    assert invalid.value.status == 422
    assert invalid.value.problem["errors"]
