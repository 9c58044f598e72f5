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
from tenantry.kit.ids import uuid7
from tenantry.kit.invalidation import notify_in
from tenantry.security_events.service import Origin
from tenantry.tenants import repository as tenants

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.identity.principal import Actor
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


class DomainService:
    """Every change is recorded as a security event with its actor: domain claims decide which
    tenant logins by email domain go to."""

    def __init__(self, db: Database, events: SecurityEvents, resolver: TxtResolver) -> None:
        self._db = db
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

    async def add(self, slug: str, domain: str, *, by: Actor) -> dict[str, str]:
        name = normalise(domain)
        token = secrets.token_urlsafe(24)
        async with self._db.platform_transaction() as tx:
            tenant = await tenants.require_tenant(tx, slug, writable=True)
            try:
                await tx.execute(
                    """INSERT INTO tenantry.tenant_domains
                           (tenant_id, id, domain, verification_token)
                       VALUES (%s, %s, %s, %s)""",
                    [tenant.id, uuid7(), name, token],
                )
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
            row = await tx.fetch_one(
                """SELECT verification_token, verified_at FROM tenantry.tenant_domains
                    WHERE tenant_id = %s AND domain = %s""",
                [tenant.id, name],
            )
        if row is None:
            raise NotFound(f"{name} is not a domain of this tenant")
        if row["verified_at"] is not None:
            return
        expected = f"tenantry-verification={row['verification_token']}"
        records = await self._resolver.txt(f"{RECORD_PREFIX}.{name}")
        if expected not in records:
            raise InvalidInput(f"TXT record {RECORD_PREFIX}.{name} does not contain {expected}")
        async with self._db.platform_transaction() as tx:
            tenant = await tenants.require_tenant(tx, slug, writable=True, lock=True)
            current = await tx.fetch_one(
                """SELECT verification_token FROM tenantry.tenant_domains
                    WHERE tenant_id = %s AND domain = %s AND verified_at IS NULL FOR UPDATE""",
                [tenant.id, name],
            )
            if current is None or current["verification_token"] != row["verification_token"]:
                raise Conflict(f"{name} changed while it was being verified; try again")
            try:
                await tx.execute(
                    "INSERT INTO tenantry_private.domain_claims (domain, tenant_id) "
                    "VALUES (%s, %s)",
                    [name, tenant.id],
                )
            except Conflict as exc:
                raise Conflict(f"{name} belongs to another tenant") from exc
            await tx.execute(
                """UPDATE tenantry.tenant_domains SET verified_at = now()
                    WHERE tenant_id = %s AND domain = %s""",
                [tenant.id, name],
            )
            await self._record(tx, tenant.id, "domain_verified", name, by)
            await notify_in(tx, str(tenant.id))

    async def set_primary(self, slug: str, domain: str, *, by: Actor) -> None:
        name = normalise(domain)
        async with self._db.platform_transaction() as tx:
            # The tenant row lock serialises primary changes, so two can never both win.
            tenant = await tenants.require_tenant(tx, slug, writable=True, lock=True)
            cur = await tx.execute(
                """UPDATE tenantry.tenant_domains SET is_primary = (domain = %s)
                    WHERE tenant_id = %s AND (domain = %s AND verified_at IS NOT NULL OR is_primary)
                    RETURNING domain, is_primary""",
                [name, tenant.id, name],
            )
            if not any(r["is_primary"] for r in await cur.fetchall()):
                raise InvalidInput(f"{name} must be a verified domain of this tenant")
            await self._record(tx, tenant.id, "domain_made_primary", name, by)
            await notify_in(tx, str(tenant.id))

    async def remove(self, slug: str, domain: str, *, by: Actor) -> None:
        name = normalise(domain)
        async with self._db.platform_transaction() as tx:
            tenant = await tenants.require_tenant(tx, slug, writable=True)
            cur = await tx.execute(
                "DELETE FROM tenantry.tenant_domains WHERE tenant_id = %s AND domain = %s",
                [tenant.id, name],
            )
            if cur.rowcount == 0:
                raise NotFound(f"{name} is not a domain of this tenant")
            await tx.execute(
                "DELETE FROM tenantry_private.domain_claims WHERE domain = %s AND tenant_id = %s",
                [name, tenant.id],
            )
            await self._record(tx, tenant.id, "domain_removed", name, by)
            await notify_in(tx, str(tenant.id))

    async def tenant_slug_for(self, domain: str) -> str | None:
        try:
            name = normalise(domain)
        except InvalidInput:
            return None
        async with self._db.platform_transaction() as tx:
            row = await tx.fetch_one(
                """SELECT t.slug FROM tenantry_private.domain_claims c
                     JOIN tenantry.tenants t ON t.id = c.tenant_id
                    WHERE c.domain = %s AND t.status = 'active'""",
                [name],
            )
        return row["slug"] if row else None
