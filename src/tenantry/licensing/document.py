"""The licence file: build, sign and verify it. Pure functions, no database (docs/licences.md).

    {"format": "tenantry-licence/1", "kid": "...",
     "payload": base64url(canonical JSON), "signature": base64url(Ed25519(payload bytes))}

The signature covers the payload's bytes exactly as they appear base64url-decoded, so a
verifier never re-serialises anything; the canonical form (sorted keys, no spaces, UTF-8)
only makes two issues of the same content byte-identical.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tenantry.licensing.models import FORMAT, Licence, LicenceInvalid

if TYPE_CHECKING:
    from collections.abc import Mapping

KEYS_FORMAT = "tenantry-licence-keys/1"
MAX_DOCUMENT_BYTES = 64 * 1024


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def payload_of(licence: Licence) -> dict[str, Any]:
    return {
        "licence_id": str(licence.id),
        "tenant": {"id": str(licence.tenant_id), "slug": licence.tenant_slug},
        "app": licence.app,
        "plan": licence.plan,
        "seats": licence.seats,
        "features": sorted(licence.features),
        "limits": dict(sorted(licence.limits.items())),
        "issued_at": _stamp(licence.issued_at),
        "valid_from": _stamp(licence.valid_from),
        "valid_until": _stamp(licence.valid_until),
        "grace_days": licence.grace_days,
        "issuer": licence.issuer,
    }


def sign(licence: Licence, kid: str, key: Ed25519PrivateKey) -> tuple[bytes, bytes, bytes]:
    """(payload bytes, signature, the file's bytes)."""
    payload = canonical(payload_of(licence))
    signature = key.sign(payload)
    return payload, signature, assemble(kid, payload, signature)


def assemble(kid: str, payload: bytes, signature: bytes) -> bytes:
    document = {
        "format": FORMAT,
        "kid": kid,
        "payload": b64url(payload),
        "signature": b64url(signature),
    }
    return json.dumps(document, indent=2).encode() + b"\n"


def verify_licence(
    data: bytes, public_keys: Mapping[str, bytes], *, now: datetime | None = None
) -> Licence:
    """The licence in `data` if it is well formed, signed by one of `public_keys` (kid → raw
    Ed25519 public key) and usable at `now` (valid, or expired but within its grace period);
    otherwise `LicenceInvalid` with the reason."""
    kid, payload, signature = _envelope(data)
    raw = public_keys.get(kid)
    if raw is None:
        raise LicenceInvalid("unknown_kid", f"signed by an unknown key {kid!r}")
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, payload)
    except (InvalidSignature, ValueError) as exc:
        raise LicenceInvalid("bad_signature", "the signature does not match the payload") from exc
    licence = _parse(payload, kid)
    moment = now or datetime.now(UTC)
    if moment < licence.valid_from:
        raise LicenceInvalid("not_yet_valid", f"valid from {_stamp(licence.valid_from)}")
    if moment > licence.grace_until:
        raise LicenceInvalid("expired", f"expired on {_stamp(licence.valid_until)}, past grace")
    return licence


def _envelope(data: bytes) -> tuple[str, bytes, bytes]:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise LicenceInvalid("bad_format", "the file is too large to be a licence")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LicenceInvalid("bad_format", "not a JSON document") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise LicenceInvalid("bad_format", f"not a {FORMAT} document")
    fields = [document.get(name) for name in ("kid", "payload", "signature")]
    if not all(isinstance(value, str) and value for value in fields):
        raise LicenceInvalid("bad_format", "kid, payload and signature are required strings")
    kid, payload, signature = (str(value) for value in fields)
    try:
        return kid, unb64url(payload), unb64url(signature)
    except (binascii.Error, ValueError) as exc:
        raise LicenceInvalid("bad_format", "payload and signature must be base64url") from exc


def _parse(payload: bytes, kid: str) -> Licence:
    # Only reached with a good signature: a malformed payload is the issuer's bug, still refused.
    try:
        body = json.loads(payload)
        tenant = body["tenant"]
        seats = body["seats"]
        limits = {str(k): int(v) for k, v in body["limits"].items()}
        return Licence(
            id=UUID(body["licence_id"]),
            tenant_id=UUID(tenant["id"]),
            tenant_slug=str(tenant["slug"]),
            app=str(body["app"]),
            plan=str(body["plan"]),
            seats=None if seats is None else int(seats),
            features=tuple(str(f) for f in body["features"]),
            limits=limits,
            issued_at=_instant(body["issued_at"]),
            valid_from=_instant(body["valid_from"]),
            valid_until=_instant(body["valid_until"]),
            grace_days=int(body["grace_days"]),
            issuer=str(body["issuer"]),
            kid=kid,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LicenceInvalid("bad_payload", "the payload is not a licence") from exc


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamps carry a zone")
    return moment


def export_public_keys(keys: Mapping[str, bytes]) -> bytes:
    """The verifier's key file (`tenantry licenses keys export-public`)."""
    listed = [
        {"kid": kid, "alg": "Ed25519", "public_key": b64url(raw)} for kid, raw in keys.items()
    ]
    return json.dumps({"format": KEYS_FORMAT, "keys": listed}, indent=2).encode() + b"\n"


def load_public_keys(data: bytes) -> dict[str, bytes]:
    refused = LicenceInvalid("bad_keys", f"not a {KEYS_FORMAT} key file")
    try:
        document = json.loads(data)
        keys = document["keys"] if document.get("format") == KEYS_FORMAT else None
        if keys is None:
            raise refused
        return {str(k["kid"]): unb64url(str(k["public_key"])) for k in keys}
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise refused from exc
