"""Standard Webhooks signatures (https://www.standardwebhooks.com), through the reference
`standardwebhooks` library: `webhook-signature` holds one `v1,<base64 HMAC-SHA256(secret,
"{id}.{timestamp}.{body}")>` per secret still valid, space-separated, so a receiver that knows
either secret of a rotation's overlap verifies."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from standardwebhooks.webhooks import Webhook

if TYPE_CHECKING:
    from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def shown(raw: bytes) -> str:
    """The secret as the receiver configures it: `whsec_<base64>`."""
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def signature_headers(
    message_id: str, timestamp: datetime, body: str, raw_secrets: Sequence[bytes]
) -> dict[str, str]:
    at = timestamp.astimezone(UTC)
    signatures = " ".join(Webhook(raw).sign(message_id, at, body) for raw in raw_secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }
