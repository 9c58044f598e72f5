"""Requests to URLs that tenants choose (external issuers' keys, webhook endpoints).

A tenant administrator must not turn the server into a probe of private networks: only https
to public addresses, unless the installation explicitly allows private ones (development). The
name is resolved once, every address it resolves to must be public, and the request goes to
the address that was checked: resolving again at connect time would let a DNS answer that
changes in between (rebinding) send it somewhere else. TLS still checks the certificate
against the original host name (SNI), and the Host header keeps it too.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port)
    return [str(info[4][0]) for info in infos]


class RefusedDestination(Exception):
    """The URL may not be fetched; the message says why in one line, safe to show."""


@dataclass(frozen=True, slots=True)
class PinnedRequest:
    """A URL to fetch, pinned to the address that was checked (see the module doc)."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, Any]


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None or address.sixtofour is not None or address.teredo
    ):
        return False  # an IPv4 address in disguise: judged as refused rather than unwrapped
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_private
    )


def check_url_shape(url: str, *, allow_private: bool) -> None:
    """What can be said without resolving: the scheme and a host name."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RefusedDestination("the URL must be an absolute https URL")
    if parts.scheme != "https" and not allow_private:
        raise RefusedDestination("the URL must use https")
    if parts.username or parts.password:
        raise RefusedDestination("the URL must not carry credentials")
    try:
        literal = ipaddress.ip_address(parts.hostname.split("%")[0])
    except ValueError:
        return
    if not allow_private and not is_public(literal):
        raise RefusedDestination("the URL must point to a public address")


async def pin(url: str, *, allow_private: bool, resolver: Resolver) -> PinnedRequest:
    """Check `url` and pin it to a checked address; `allow_private` lifts every restriction."""
    if allow_private:
        check_url_shape(url, allow_private=True)
        return PinnedRequest(url, {}, {})
    check_url_shape(url, allow_private=False)
    parts = urlsplit(url)
    host = parts.hostname
    assert host is not None  # checked by the shape
    try:
        port = parts.port or 443
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in await resolver(host, port)]
    except (OSError, ValueError) as exc:
        raise RefusedDestination("the host does not resolve") from exc
    if not addresses or not all(is_public(address) for address in addresses):
        raise RefusedDestination("the host must resolve to public addresses only")
    address = addresses[0]
    netloc = f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"  # noqa: PLR2004 - IPv6
    return PinnedRequest(
        urlunsplit(parts._replace(netloc=netloc)),
        {"Host": host if parts.port is None else f"{host}:{port}"},
        {"sni_hostname": host},
    )
