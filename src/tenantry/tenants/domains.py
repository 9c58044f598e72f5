"""Tenant domains: add, prove ownership with a DNS TXT record, make primary, remove.

A verified domain belongs to exactly one tenant (a global claim), and login can find the tenant
from the domain of a user's email. The DNS lookup is behind `TxtResolver`, so tests and
air-gapped installs can point it at their own name server.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Protocol

import dns.asyncresolver
import dns.exception
import dns.resolver
from psycopg import errors

from tenantry.kit.errors import Conflict, InvalidInput, NotFound
from tenantry.kit.invalidation import notify_in
from tenantry.security_events.service import Origin
from tenantry.tenants.repository import domains, tenants

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.audit_log.service import AuditLog
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction
    from tenantry.security_events.service import SecurityEvents

RECORD_PREFIX = "_tenantry-verification"


class TxtResolver(Protocol):
    async def txt(self, name: str) -> list[str]: ...


class DnsTxtResolver:
    """TXT lookups over DNS, through the system's resolvers or the given `host:port` servers."""

    def __init__(self, nameservers: list[str] | None = None, timeout: float = 3.0) -> None:
        self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            hosts, ports = zip(*(_host_port(n) for n in nameservers), strict=True)
            self._resolver.nameservers = list(hosts)
            self._resolver.port = ports[0]
        self._resolver.lifetime = timeout

    async def txt(self, name: str) -> list[str]:
        try:
            answer = await self._resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            return []
        except dns.exception.Timeout as exc:
            raise InvalidInput(f"DNS lookup of {name} timed out") from exc
        except dns.exception.DNSException as exc:
            raise InvalidInput(f"DNS lookup of {name} failed: {exc}") from exc
        return [b"".join(record.strings).decode(errors="replace") for record in answer]


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return (host, int(port)) if host else (value, 53)


# The verification record `_tenantry-verification.<domain>` must itself fit in a DNS name.
MAX_DOMAIN = 253 - len(RECORD_PREFIX) - 1


def normalise(domain: str) -> str:
    clean = domain.strip().lower().rstrip(".")
    if not clean or len(clean) > MAX_DOMAIN or "." not in clean:
        raise InvalidInput(f"not a domain name (at most {MAX_DOMAIN} characters): {domain[:80]!r}")
    return clean


AUDIT_ACTIONS = {
    "domain_added": "domain.add",
    "domain_verified": "domain.verify",
    "domain_made_primary": "domain.make_primary",
    "domain_removed": "domain.remove",
}


class DomainService:
    """Every change is recorded as a security event with its actor: domain claims decide which
    tenant logins by email domain go to."""

    def __init__(
        self, db: Database, events: SecurityEvents, resolver: TxtResolver, audit: AuditLog
    ) -> None:
        self._db = db
        self._audit = audit
        self._events = events
        self._resolver = resolver

    async def _record(
        self, tx: Transaction, tenant_id: UUID, kind: str, domain: str, by: Actor
    ) -> None:
        await self._events.record_in(
            tx,
            kind,
            tenant_id=tenant_id,
            origin=Origin(),
            severity="info",
            detail={"domain": domain, "actor": str(by)},
        )
        await self._audit.record_in(
            tx,
            tenant_id=tenant_id,
            action=AUDIT_ACTIONS[kind],
            object_type="domain",
            object_id=domain,
            by=by,
        )

    async def add(self, slug: str, domain: str, *, by: Actor) -> dict[str, str]:
        name = normalise(domain)
        token = secrets.token_urlsafe(24)
        async with self._db.platform_transaction() as tx:
            tenant = await tenants.require_tenant(tx, slug, writable=True)
        # Unclaimed until verified: only the tenant's own rows, where it lives.
        async with self._db.platform_transaction(tenant_id=tenant.id) as tx:
            try:
                await domains.add(tx, tenant.id, name, token)
            except Conflict as exc:
                raise Conflict(f"{name} is already added to this tenant") from exc
            except errors.CheckViolation as exc:
                raise InvalidInput(f"not a domain name: {domain[:80]!r}") from exc
            await self._record(tx, tenant.id, "domain_added", name, by)
        return {
            "domain": name,
            "record": f"{RECORD_PREFIX}.{name}",
            "value": f"tenantry-verification={token}",
        }

    async def verify(self, slug: str, domain: str, *, by: Actor) -> None:
        name = normalise(domain)
        # The DNS lookup can take seconds: no transaction (and no pooled connection) is held
        # across it. The token is re-checked under a lock afterwards.
        async with self._db.platform_transaction() as tx:
            tenant = await tenants.require_tenant(tx, slug, writable=True)
        async with self._db.platform_transaction(tenant_id=tenant.id) as tx:
            found = await domains.verification(tx, tenant.id, name)
        if found is None:
            raise NotFound(f"{name} is not a domain of this tenant")
        token, verified_at = found
        if verified_at is not None:
            return
        expected = f"tenantry-verification={token}"
        records = await self._resolver.txt(f"{RECORD_PREFIX}.{name}")
        if expected not in records:
            raise InvalidInput(f"TXT record {RECORD_PREFIX}.{name} does not contain {expected}")
        async with self._db.platform_transaction() as tx:
            tenant = await tenants.require_tenant(tx, slug, writable=True, lock=True)
            if await domains.lock_unverified(tx, tenant.id, name) != token:
                raise Conflict(f"{name} changed while it was being verified; try again")
            try:
                await domains.claim(tx, tenant.id, name)
            except Conflict as exc:
                raise Conflict(f"{name} belongs to another tenant") from exc
            await self._record(tx, tenant.id, "domain_verified", name, by)
            await notify_in(tx, str(tenant.id))

    async def set_primary(self, slug: str, domain: str, *, by: Actor) -> None:
        name = normalise(domain)
        async with self._db.platform_transaction() as tx:
            # The tenant row lock serialises primary changes, so two can never both win.
            tenant = await tenants.require_tenant(tx, slug, writable=True, lock=True)
            if not await domains.make_primary(tx, tenant.id, name):
                raise InvalidInput(f"{name} must be a verified domain of this tenant")
            await self._record(tx, tenant.id, "domain_made_primary", name, by)
            await notify_in(tx, str(tenant.id))

    async def remove(self, slug: str, domain: str, *, by: Actor) -> None:
        name = normalise(domain)
        async with self._db.platform_transaction() as tx:
            tenant = await tenants.require_tenant(tx, slug, writable=True)
            if not await domains.remove(tx, tenant.id, name):
                raise NotFound(f"{name} is not a domain of this tenant")
            await self._record(tx, tenant.id, "domain_removed", name, by)
            await notify_in(tx, str(tenant.id))

    async def tenant_slug_for(self, domain: str) -> str | None:
        try:
            name = normalise(domain)
        except InvalidInput:
            return None
        async with self._db.platform_transaction() as tx:
            return await domains.claimed_by_active_tenant(tx, name)
