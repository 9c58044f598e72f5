"""A platform administrator, and the app with a DNS stub so domain checks stay on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Iterator

import dns.message
import dns.rdatatype
import dns.rrset
import pytest
from fastapi import FastAPI

from tenantry.apps import repository as apps_repo
from tenantry.identity import repository as users
from tenantry.identity.passwords import hash_password
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.tenants import repository as tenants_repo
from tenantry.tenants.domains import DnsTxtResolver
from tenantry.web import create_app
from tests.api.conftest import PASSWORD, User, api_settings, client_for, login
from tests.api.conftest import tenant as tenant  # noqa: PLC0414 - shared fixture

PLATFORM = "platform-ops"


class DnsStub:
    """A tiny authoritative DNS server on loopback UDP answering TXT queries from a dict."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            if question.rdtype == dns.rdatatype.TXT and name in self.records:
                values = [f'"{v}"' for v in self.records[name]]
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT", *values))
            else:
                response.set_rcode(3)  # NXDOMAIN
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture(scope="session")
def dns_stub() -> Iterator[DnsStub]:
    stub = DnsStub()
    yield stub
    stub.close()


@pytest.fixture(scope="session")
async def control_app(urls, db: Database, dns_stub: DnsStub) -> AsyncIterator[FastAPI]:
    application = create_app(
        api_settings(urls, platform_tenant=PLATFORM),
        database=db,
        resolver=DnsTxtResolver([dns_stub.address]),
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(control_app):
    async with client_for(control_app) as c:
        yield c


@pytest.fixture(scope="session")
async def operator(control_app, db: Database) -> User:
    """A platform administrator: a user of the admin app in the operator's tenant."""
    async with db.platform_transaction() as tx:
        tenant = await tenants_repo.get_by_slug(tx, PLATFORM)
        if tenant is None:
            tenant = await tenants_repo.create(
                tx, slug=PLATFORM, name="Operators", status="active", plan="free"
            )
        admin_app = await apps_repo.get_by_slug(tx, "admin")
        assert admin_app is not None
        await tenants_repo.enable_app(tx, tenant.id, admin_app.id)
    async with db.tenant_transaction(TenantContext(tenant.id, admin_app.id)) as tx:
        existing = await users.get_by_email(tx, tenant.id, admin_app.id, "ops@example.com")
        if existing is None:
            await users.create(
                tx,
                tenant.id,
                admin_app.id,
                "ops@example.com",
                password_hash=await hash_password(PASSWORD),
            )
    from tests.api.conftest import Tenant

    user = User("admin", Tenant(tenant.id, PLATFORM), "ops@example.com", PASSWORD)
    async with client_for(control_app) as c:
        assert (await login(c, user)).status_code == 200
    return user
