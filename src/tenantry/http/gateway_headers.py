"""Header hygiene for the gateway: what crosses to an app's upstream and back.

Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and never cross, either way,
including every header a `Connection` header names. Towards the upstream, everything the
upstream could mistake for the gateway's own word is dropped (the caller's credentials and
cookies, `Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `X-Tenantry-*`, `X-Request-Id`,
`X-Tenant-Id`) and then set from what Tenantry itself saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

Headers = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        # Answered by Tenantry's own server; the upstream gets the whole body anyway.
        b"expect",
    }
)
HOP_BY_HOP_PREFIXES = (b"proxy-",)
# The caller's own credentials and the headers only a proxy in front of the upstream may set.
SPOOFABLE = frozenset(
    {
        b"host",
        b"authorization",
        b"cookie",
        b"forwarded",
        b"x-real-ip",
        b"x-request-id",
        b"x-tenant-id",
    }
)
SPOOFABLE_PREFIXES = (b"x-forwarded-", b"x-tenantry-")
# Set by Tenantry's server and middleware on every answer; the upstream's would be duplicates.
REPLACED_IN_RESPONSES = frozenset({b"server", b"date", b"x-request-id"})
ASSERTION_HEADER = b"x-tenantry-assertion"


def _connection_named(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    named: set[bytes] = set()
    for key, value in headers:
        if key.lower() == b"connection":
            named.update(token.strip().lower() for token in value.split(b",") if token.strip())
    return named


def _hop_by_hop(key: bytes, named: set[bytes]) -> bool:
    return key in HOP_BY_HOP or key in named or key.startswith(HOP_BY_HOP_PREFIXES)


def upstream_request_headers(
    received: Iterable[tuple[bytes, bytes]],
    *,
    client_ip: str | None,
    scheme: str,
    host: str | None,
    request_id: str,
    assertion: str,
) -> Headers:
    """The headers sent upstream: the caller's, cleaned, then the gateway's own."""
    received = list(received)
    named = _connection_named(received)
    kept: Headers = []
    for raw_key, value in received:
        key = raw_key.lower()
        if _hop_by_hop(key, named) or key in SPOOFABLE or key.startswith(SPOOFABLE_PREFIXES):
            continue
        kept.append((key, value))
    if client_ip:
        kept.append((b"x-forwarded-for", client_ip.encode("latin-1")))
    kept.append((b"x-forwarded-proto", scheme.encode("latin-1")))
    if host:
        kept.append((b"x-forwarded-host", host.encode("latin-1")))
    kept.append((b"x-request-id", request_id.encode("latin-1")))
    kept.append((ASSERTION_HEADER, assertion.encode("ascii")))
    return kept


def downstream_response_headers(received: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The upstream's answer headers passed to the caller: hop-by-hop ones dropped."""
    received = list(received)
    named = _connection_named(received)
    return [
        (key.lower(), value)
        for key, value in received
        if not _hop_by_hop(key.lower(), named) and key.lower() not in REPLACED_IN_RESPONSES
    ]
