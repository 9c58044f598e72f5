"""Building the webhook services over the test database, and events to deliver."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tenantry.events.delivery import Delivery, Event
from tenantry.kit.ids import uuid7
from tenantry.secrets.box import SecretBox
from tenantry.secrets.keys import LocalMasterKeys
from tenantry.webhooks.sealing import SecretSealer
from tenantry.webhooks.service import WebhookService

if TYPE_CHECKING:
    from uuid import UUID

SEALER = SecretSealer(SecretBox(LocalMasterKeys([os.urandom(32)])))


def webhooks(db: Any, **options: Any) -> WebhookService:
    return WebhookService(db, SEALER, allow_private=True, **options)


def delivery_for(tenant_id: UUID, endpoint_id: UUID, attempts: int = 1) -> Delivery:
    event = Event(
        id=uuid7(),
        tenant_id=tenant_id,
        app_id=uuid7(),
        type="thinktank.chat.created",
        key=None,
        payload={"chat": "hello"},
        created_at=datetime.now(UTC),
    )
    return Delivery(tenant_id, uuid7(), f"webhook:{endpoint_id}", attempts, event)
