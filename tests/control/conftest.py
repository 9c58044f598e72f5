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

from tenantry.identity.passwords import hash_password
from tenantry.kit.db import Database
from tenantry.tenants.domains import DnsTxtResolver
from tenantry.web import create_app
from tests.api.conftest import PASSWORD, User, api_settings, client_for, login
from tests.api.conftest import tenant as tenant  # noqa: PLC0414 - shared fixture
from tests.conftest import FIXTURES

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
    services = control_app.state.services
    admin = await services.tenant_admin.add_platform_admin(
        "ops@example.com", await hash_password(PASSWORD), by=FIXTURES, exist_ok=True
    )
    from tests.api.conftest import Tenant

    user = User("admin", Tenant(admin.tenant_id, PLATFORM), "ops@example.com", PASSWORD)
    async with client_for(control_app) as c:
        assert (await login(c, user)).status_code == 200
    return user
