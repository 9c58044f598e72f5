"""Publishing events in the caller's transaction (the outbox), consuming them once,
subscriptions, the tenant's event stream, replay and retention.

`publish_in` only inserts the event: the insert's trigger (`tenantry.event_fan_out`) creates a
delivery per matching active subscription and notifies the worker, in the same transaction, so
a change and its events commit or roll back together and no publish path can skip the fan-out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from tenantry.events.models import (
    CONSUMER_NAME,
    MAX_KEY_LENGTH,
    TYPE_NAME,
    TYPE_PATTERN,
    EventNotFound,
    InvalidEventPayload,
    InvalidSubscription,
    SubscriptionNotFound,
    UnknownEventType,
)
from tenantry.events.repository import deliveries as delivery_rows
from tenantry.events.repository import events as event_rows
from tenantry.events.repository import subscriptions as subscription_rows
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import Conflict, InvalidInput, NotFound
from tenantry.kit.ids import uuid7
from tenantry.kit.invalidation import EVERYTHING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from uuid import UUID

    from tenantry.events.delivery import Event
    from tenantry.events.models import DeliveryRecord, EventType, StoredEvent, Subscription
    from tenantry.kit.db import Database, Transaction

# Another process may register a new schema; a cached validator is trusted this long (a
# publication also clears the cache of every process through the invalidation channel).
SCHEMA_CACHE_SECONDS = 30.0
MAX_PAGE = 500


class EventTypeTaken(Conflict):
    code = "event_type_taken"


@dataclass(frozen=True, slots=True)
class _Schema:
    loaded: float
    validator: Draft202012Validator | None
    app_id: UUID | None


class Events:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._schemas: dict[str, _Schema] = {}

    def invalidate(self, scope: str) -> None:
        if scope == EVERYTHING:
            self._schemas.clear()

    async def tenant_id(self, slug: str) -> UUID:
        async with self._db.platform_transaction() as tx:
            found = await event_rows.tenant_id(tx, slug)
        if found is None:
            raise NotFound(f"no tenant {slug!r}")
        return found

    # -- types ----------------------------------------------------------------------------

    async def register_types_in(
        self, tx: Transaction, app_id: UUID, version: str, manifest: dict[str, Any]
    ) -> None:
        """The registry's publication hook: the version's `events.emits` become the catalog's
        types, in the publishing transaction."""
        emits = [
            (item["type"], item["schema"]) for item in manifest.get("events", {}).get("emits", [])
        ]
        for name, schema in emits:
            if not TYPE_NAME.match(name):
                raise InvalidInput(f"event type {name!r} needs a dotted name, e.g. app.thing.done")
            Draft202012Validator.check_schema(schema)
        taken = await event_rows.register_types(tx, app_id, version, emits)
        if taken:
            raise EventTypeTaken(f"event type {taken[0]!r} belongs to another app")
        self._schemas.clear()

    async def types(self) -> list[EventType]:
        async with self._db.platform_transaction() as tx:
            return await event_rows.event_types(tx)

    async def _schema(self, tx: Transaction, name: str) -> _Schema:
        cached = self._schemas.get(name)
        if cached is None or time.monotonic() - cached.loaded > SCHEMA_CACHE_SECONDS:
            found = await event_rows.event_type(tx, name)
            validator = Draft202012Validator(found.schema) if found else None
            cached = _Schema(time.monotonic(), validator, found.catalog_app_id if found else None)
            self._schemas[name] = cached
        if cached.validator is None:
            raise UnknownEventType(f"no event type {name!r}: an app manifest must declare it")
        return cached

    # -- publishing and consuming ----------------------------------------------------------

    async def publish_in(
        self,
        tx: Transaction,
        *,
        tenant_id: UUID,
        app_id: UUID,
        type: str,  # noqa: A002 - the event's field name
        payload: Any,  # noqa: ANN401 - any JSON value the type's schema accepts
        key: str | None = None,
        own_types: bool = False,
    ) -> StoredEvent:
        """Validate and insert the event (and, by the database, its deliveries) in `tx`.
        `own_types` holds the source app to the types its own manifest declares (the API)."""
        await self._validate(tx, app_id, type, payload, key, own_types=own_types)
        return await event_rows.insert_event(
            tx,
            tenant_id=tenant_id,
            app_id=app_id,
            event_id=uuid7(),
            type=type,
            key=key,
            payload=payload,
        )

    async def publish_many_in(
        self,
        tx: Transaction,
        *,
        tenant_id: UUID,
        app_id: UUID,
        events: Sequence[tuple[str, Any, str | None]],
    ) -> int:
        """Several events of one change, `(type, payload, key)` each, validated like
        `publish_in` and inserted in one statement: a change that emits many events pays one
        round trip. All or none: an invalid one refuses the lot."""
        for type_, payload, key in events:
            await self._validate(tx, app_id, type_, payload, key, own_types=False)
        rows = [(uuid7(), type_, key, payload) for type_, payload, key in events]
        return await event_rows.insert_events(tx, tenant_id=tenant_id, app_id=app_id, rows=rows)

    async def _validate(
        self,
        tx: Transaction,
        app_id: UUID,
        type_: str,
        payload: Any,  # noqa: ANN401 - any JSON value the type's schema accepts
        key: str | None,
        *,
        own_types: bool,
    ) -> None:
        if key is not None and not 0 < len(key) <= MAX_KEY_LENGTH:
            raise InvalidInput(f"an ordering key has 1 to {MAX_KEY_LENGTH} characters")
        schema = await self._schema(tx, type_)
        if own_types and schema.app_id != app_id:
            raise UnknownEventType(f"{type_!r} is not an event type of this app")
        assert schema.validator is not None
        error = best_match(schema.validator.iter_errors(payload))
        if error is not None:
            raise InvalidEventPayload(error.json_path, error.message)

    async def publish(
        self,
        tenant_id: UUID,
        app_id: UUID,
        type: str,  # noqa: A002 - the event's field name
        payload: Any,  # noqa: ANN401 - any JSON value the type's schema accepts
        key: str | None = None,
        *,
        own_types: bool = False,
    ) -> StoredEvent:
        """An event on its own (the publish API): in the app's own tenant context, so the
        database holds the app to its tenant and to itself as the source."""
        async with self._db.tenant_transaction(TenantContext(tenant_id, app_id)) as tx:
            return await self.publish_in(
                tx,
                tenant_id=tenant_id,
                app_id=app_id,
                type=type,
                payload=payload,
                key=key,
                own_types=own_types,
            )

    # -- subscriptions ----------------------------------------------------------------------

    async def subscribe(
        self, tenant_id: UUID, consumer_app_id: UUID, consumer: str, types: Sequence[str]
    ) -> Subscription:
        _check_subscription(consumer, types)
        try:
            async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
                return await subscription_rows.create(
                    tx,
                    tenant_id=tenant_id,
                    subscription_id=uuid7(),
                    consumer_app_id=consumer_app_id,
                    consumer=consumer,
                    types=list(dict.fromkeys(types)),
                )
        except psycopg.errors.ForeignKeyViolation as exc:
            raise InvalidSubscription("the consuming app is not enabled for the tenant") from exc

    async def update_subscription(
        self,
        tenant_id: UUID,
        subscription_id: UUID,
        *,
        types: Sequence[str] | None = None,
        active: bool | None = None,
    ) -> Subscription:
        if types is not None:
            _check_subscription(None, types)
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            updated = await subscription_rows.update(
                tx,
                tenant_id,
                subscription_id,
                types=list(dict.fromkeys(types)) if types is not None else None,
                active=active,
            )
        if updated is None:
            raise SubscriptionNotFound("no such subscription")
        return updated

    async def unsubscribe(self, tenant_id: UUID, subscription_id: UUID) -> None:
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            if not await subscription_rows.delete(tx, tenant_id, subscription_id):
                raise SubscriptionNotFound("no such subscription")

    async def subscriptions(self, tenant_id: UUID) -> list[Subscription]:
        async with self._db.tenant_transaction(TenantContext(tenant_id, read_only=True)) as tx:
            return await subscription_rows.list_for(tx, tenant_id)

    # -- the event stream (platform path: every app's events of one tenant) -----------------
    # Each transaction runs where the tenant lives.

    async def stream(
        self,
        tenant_id: UUID,
        *,
        app_id: UUID | None = None,
        type: str | None = None,  # noqa: A002 - the event's field name
        before: tuple[datetime, UUID] | None = None,
        limit: int = 50,
    ) -> list[StoredEvent]:
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await event_rows.events(
                tx,
                tenant_id,
                app_id=app_id,
                type=type,
                before=before,
                limit=min(max(limit, 1), MAX_PAGE),
            )

    async def event(
        self, tenant_id: UUID, event_id: UUID
    ) -> tuple[StoredEvent, list[DeliveryRecord]]:
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            found = await event_rows.event(tx, tenant_id, event_id)
            if found is None:
                raise EventNotFound("no such event")
            return found, await delivery_rows.of_event(tx, tenant_id, event_id)

    async def deliveries(
        self,
        tenant_id: UUID,
        *,
        status: str | None = None,
        consumer: str | None = None,
        before: tuple[datetime, UUID] | None = None,
        limit: int = 50,
    ) -> list[DeliveryRecord]:
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await delivery_rows.listed(
                tx,
                tenant_id,
                status=status,
                consumer=consumer,
                before=before,
                limit=min(max(limit, 1), MAX_PAGE),
            )

    async def replay(
        self,
        tenant_id: UUID,
        *,
        consumer: str | None = None,
        since: datetime | None = None,
        dead_only: bool = False,
        event_id: UUID | None = None,
    ) -> int:
        """Deliveries back to pending with no attempts; the worker wakes on commit. Consumers
        that record consumption skip what they already applied."""
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await delivery_rows.replay(
                tx,
                tenant_id,
                consumer=consumer,
                since=since,
                dead_only=dead_only,
                event_id=event_id,
            )

    # -- partitions and retention ------------------------------------------------------------

    async def ensure_partitions(self, months_ahead: int = 2, months_back: int = 0) -> list[str]:
        """Create the monthly partitions from `months_back` ago to `months_ahead` from now."""
        async with self._db.platform_transaction() as tx:
            return await event_rows.ensure_partitions(tx, months_ahead, months_back)

    async def analyze_partitions(self) -> list[str]:
        """Refresh the statistics of the event tables that have changed much since they were
        last analyzed (a new month's partition fills faster than autovacuum looks at it); the
        ones analyzed."""
        async with self._db.platform_transaction() as tx:
            return await event_rows.analyze_partitions(tx)

    async def partitions(self) -> list[str]:
        async with self._db.platform_transaction() as tx:
            return await event_rows.partitions(tx)

    async def prune(self, older_than_months: int) -> list[str]:
        """Drop the months that ended `older_than_months` months before this one began, with
        their deliveries and consumption records."""
        if older_than_months < 1:
            raise InvalidInput("retention keeps at least the current month (older than >= 1)")
        now = datetime.now(UTC)
        month = now.year * 12 + now.month - 1 - older_than_months
        cutoff = datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)
        async with self._db.platform_transaction() as tx:
            dropped = await event_rows.drop_partitions(tx, older_than_months)
            await delivery_rows.prune_before(tx, cutoff)
        return dropped


async def consume_in(tx: Transaction, consumer: str, event: Event, consumer_app_id: UUID) -> bool:
    """Record that `consumer` (of app `consumer_app_id`) applies `event` in `tx`; False when it
    already did (a concurrent attempt waits on the unique key and then gets False)."""
    return await event_rows.consume(tx, event.tenant_id, consumer_app_id, consumer, event.id)


async def apply_once(
    db: Database,
    context: TenantContext,
    consumer: str,
    event: Event,
    effect: Callable[[Transaction], Awaitable[object]],
) -> bool:
    """Run `effect` and record the consumption in one transaction of the consumer app's
    `context`; a redelivered event is skipped (False) and its effect never doubled."""
    if context.app_id is None or context.tenant_id != event.tenant_id:
        raise InvalidInput("consumption is recorded in the event's tenant, for the consumer app")
    async with db.tenant_transaction(context) as tx:
        if not await consume_in(tx, consumer, event, context.app_id):
            return False
        await effect(tx)
        return True


def _check_subscription(consumer: str | None, types: Sequence[str]) -> None:
    if consumer is not None and not CONSUMER_NAME.match(consumer):
        raise InvalidSubscription(
            "a consumer name is lower-case letters, digits and . _ : - (at most 200)"
        )
    if not types or len(types) > 100:  # noqa: PLR2004 - the table's CHECK
        raise InvalidSubscription("a subscription names 1 to 100 type patterns")
    for pattern in types:
        if not TYPE_PATTERN.match(pattern):
            raise InvalidSubscription(f"{pattern!r} is not a type, a prefix ending in .* or *")
