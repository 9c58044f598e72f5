"""Moving a tenant between placements: copy, freeze, drain, catch up, verify, switch, clean up.

1. **Copy.** The move is journaled in the home database. One snapshot of the source, one
   transaction in the target: the tenant's row (`arriving`), then each table parents first,
   the audit trail with its seq, times and hashes. The tenant keeps working meanwhile.
2. **Freeze.** The source marks the tenant `frozen`: its residency guard refuses writes (503
   `tenant_moving`), reads go on. The write pause starts here, not before the copy.
3. **Drain.** Every transaction open in the source when the freeze committed is waited out (as
   CREATE INDEX CONCURRENTLY waits), so no write that saw the tenant resident is still coming.
4. **Catch up and verify.** A second snapshot, one more target transaction: the rows written
   after the first snapshot (by transactions it did not see: their `xmin`) go in again,
   replacing their earlier copy; in a table whose rows still differ, the rows the source no
   longer has are deleted, and if it still differs it is copied whole again (a row written in
   a savepoint escapes the snapshot test). Before that transaction commits, each table's row
   count and checksum (a sum of per-row hashes) in the target must equal the source's.
5. **Switch.** One home transaction records the new placement and journals `switched`: the
   point of no return. Every process is told to route the tenant anew.
6. **Finish.** The target makes the tenant `resident`, the source `departed`; the source's
   copy is deleted, children first, and the journal entry ends.

A crash anywhere leaves the journal saying what to do: before the switch the move is undone
(the target's partial copy deleted, the source unfrozen), after it finished. `recover()` does
that, and a new move refuses to start over an unfinished one. Whatever the crash, the tenant's
rows are whole in one placement, the one the home database names.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.audit_log.service import AuditLog
from tenantry.kit.errors import Conflict, NotFound, TenantryError
from tenantry.kit.invalidation import notify_in
from tenantry.kit.placements import PLACEMENTS_SCOPE, REFRESH_SECONDS, SHARED
from tenantry.placements.repository import registry, rows
from tenantry.placements.repository.rows import TENANTS
from tenantry.placements.service import Placements

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from uuid import UUID

    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction
    from tenantry.placements.repository.registry import Move

BATCH_ROWS = 2_000
# A copy may outlast a signed context: each transaction signs a fresh one this often.
RENEW_SECONDS = 60.0
DRAIN_SECONDS = 30.0


class MoveFailed(TenantryError):
    """The move could not complete and was undone: the tenant stays where it was."""

    code = "move_failed"
    status = 409


@dataclass(frozen=True, slots=True)
class MoveReport:
    slug: str
    source: str
    target: str
    rows: int
    tables: int
    frozen_seconds: float  # writes refused: from the freeze to the target taking them
    seconds: float


async def _no_checkpoint(_step: str) -> None:
    return None


class TenantMoves:
    def __init__(
        self,
        db: Database,
        *,
        # Called after each step with its name; tests stop a move there as a crash would.
        checkpoint: Callable[[str], Awaitable[None]] = _no_checkpoint,
        drain_seconds: float = DRAIN_SECONDS,
    ) -> None:
        self._db = db
        self._placements = Placements(db)
        self._checkpoint = checkpoint
        self._drain_seconds = drain_seconds

    async def move(self, slug: str, target: str, *, by: Actor) -> MoveReport:
        if self._db.distributed:  # no residency guard there: Citus moves shards itself
            raise MoveFailed("tenants on Citus move with `tenantry citus isolate --to-node`")
        started = time.monotonic()
        async with self._db.platform_transaction() as tx:
            tenant = await registry.tenant(tx, slug, lock=True)
            if tenant is None:
                raise NotFound(f"no tenant {slug!r}")
            if await registry.move_of(tx, tenant.id) is not None:
                raise Conflict(
                    f"a move of {slug} is unfinished: run `tenantry placements recover` first"
                )
            if tenant.placement == target:
                raise Conflict(f"{slug} already lives in {target}")
            if target not in {p.name for p in await registry.placements(tx)}:
                raise NotFound(f"no placement {target!r}: add it with `tenantry placements add`")
            source = tenant.placement
        # Both ends at the home database's revision, the target's catalogs current.
        for placement in {source, target} - {SHARED}:
            await self._placements.check(placement)
        if target != SHARED:
            await self._placements.sync(target)
        # The journal's first step, `frozen`, means "before the switch": undone on recovery.
        async with self._db.platform_transaction() as tx:
            await registry.begin_move(tx, tenant.id, source, target)
        try:
            since = await self._copy(tenant.id, source, target)
            await self._checkpoint("precopied")
            await self._freeze(tenant.id, source)
            frozen = time.monotonic()
            await self._drain(source)
            await self._checkpoint("drained")
            moved, tables = await self._catch_up(tenant.id, source, target, since)
            await self._checkpoint("copied")
        except Exception as exc:
            await self._undo(tenant.id, source, target)
            if isinstance(exc, TenantryError):
                raise
            raise MoveFailed(f"the move of {slug} failed and was undone: {exc}") from exc
        await self._switch(tenant.id, target)
        switched = time.monotonic()
        await self._checkpoint("switched")
        writable = await self._finish(
            tenant.id, source, target, by=by, rows=moved, switched=switched
        )
        return MoveReport(
            slug, source, target, moved, tables, writable - frozen, time.monotonic() - started
        )

    async def recover(self) -> list[tuple[str, str]]:
        """Finish every move journaled past its switch, undo every other: (slug, outcome)."""
        async with self._db.platform_transaction() as tx:
            pending = await registry.moves(tx)
        return [(move.slug, await self._recover(move)) for move in pending]

    async def pending(self) -> list[Move]:
        async with self._db.platform_transaction() as tx:
            return await registry.moves(tx)

    async def _recover(self, move: Move) -> str:
        if move.step == "switched":
            switched = time.monotonic()  # when it switched is unknown: wait the whole period
            await self._finish(
                move.tenant_id, move.source, move.target, by=None, rows=0, switched=switched
            )
            return "finished"
        await self._undo(move.tenant_id, move.source, move.target)
        return "undone"

    async def _freeze(self, tenant_id: UUID, source: str) -> None:
        async with self._db.platform_transaction(placement=source) as tx:
            await registry.set_residency(tx, tenant_id, "frozen")
        await self._checkpoint("frozen")

    async def _drain(self, source: str) -> None:
        async with self._db.platform_transaction(placement=source) as tx:
            waiting = await registry.running_transactions(tx)
        deadline = time.monotonic() + self._drain_seconds
        while waiting:
            async with self._db.platform_transaction(placement=source) as tx:
                if not await registry.still_running(tx, waiting):
                    return
            if time.monotonic() > deadline:
                raise MoveFailed(
                    f"transactions open in {source} when the tenant froze were still open"
                    f" after {self._drain_seconds:.0f} s"
                )
            await asyncio.sleep(0.05)

    async def _copy(self, tenant_id: UUID, source: str, target: str) -> str:
        """The tenant's rows from a snapshot of the source into one target transaction; the
        snapshot (what was written after it is copied again under the freeze)."""
        async with (
            self._db.platform_transaction(placement=source, snapshot=True) as src,
            self._db.platform_transaction(placement=target) as dst,
        ):
            since = await rows.snapshot(src)
            await registry.as_replica(dst)
            if target == SHARED:  # the home database keeps the tenant's row as the registry
                await registry.set_residency(dst, tenant_id, "arriving")
            async with rows.restoring_audit_trail(dst, {}):
                for table in await rows.tenant_tables(src):
                    if table.qualified == TENANTS and target == SHARED:
                        continue
                    await _copy_table(src, dst, table, tenant_id, target)
                    if table.qualified == TENANTS:  # its rows may follow, by the move only
                        await registry.set_residency(dst, tenant_id, "arriving")
        return since

    async def _catch_up(
        self, tenant_id: UUID, source: str, target: str, since: str
    ) -> tuple[int, int]:
        """What was written after the copy's snapshot, in one target transaction, verified
        table by table before it commits: the tenant's rows moved, and the table count."""
        moved = 0
        async with (
            self._db.platform_transaction(placement=source, snapshot=True) as src,
            self._db.platform_transaction(placement=target) as dst,
        ):
            tables = [
                table
                for table in await rows.tenant_tables(src)
                if not (table.qualified == TENANTS and target == SHARED)
            ]
            await registry.as_replica(dst)
            async with rows.restoring_audit_trail(dst, {}):
                await rows.continue_audit_trail(dst, tenant_id)
                for table in tables:
                    # An append-only table's rows are never rewritten: written after, new.
                    await _copy_table(
                        src, dst, table, tenant_id, target, since=since, replace=table.mutable
                    )
            # Then table by table, children first: the rows deleted since go (an append-only
            # table has none to delete), and both sides must agree.
            for table in reversed(tables):
                if table.qualified == TENANTS:  # its `placement` differs by design
                    moved += 1
                    continue
                await src.renew(RENEW_SECONDS)
                await dst.renew(RENEW_SECONDS)
                here, there = await _digests(src, dst, table, tenant_id)
                if here != there and table.mutable:
                    present = await rows.keys(src, table, tenant_id)
                    await rows.delete_missing(dst, table, tenant_id, present)
                    here, there = await _digests(src, dst, table, tenant_id)
                if here != there and table.mutable:
                    # A row the snapshot test missed (written in a savepoint): all again.
                    await _copy_table(src, dst, table, tenant_id, target, replace=True)
                    here, there = await _digests(src, dst, table, tenant_id)
                if here != there:
                    raise MoveFailed(
                        f"{'.'.join(table.qualified)}: {there[0]} rows copied of"
                        f" {here[0]}, or their checksums differ"
                    )
                moved += here[0]
        return moved, len(tables)

    async def _switch(self, tenant_id: UUID, target: str) -> None:
        async with self._db.platform_transaction() as tx:
            # The home database's own view: resident if the tenant comes home, departed if it
            # leaves, unchanged (departed) between two silos.
            await registry.switch(tx, tenant_id, target)
            await registry.set_residency(
                tx, tenant_id, "resident" if target == SHARED else "departed"
            )
            await registry.journal(tx, tenant_id, "switched")
            await notify_in(tx, PLACEMENTS_SCOPE)
        self._db.placements.invalidate(PLACEMENTS_SCOPE)

    async def _finish(
        self,
        tenant_id: UUID,
        source: str,
        target: str,
        *,
        by: Actor | None,
        rows: int,
        switched: float = 0.0,
    ) -> float:
        """The rest of a switched move; returns when the target took writes (monotonic).
        The source's copy goes only once every process has read the registry since the switch
        (`REFRESH_SECONDS`): until then, a write routed there by an older reading meets rows
        the guard refuses to change, never an empty table that would take it silently."""
        writable = time.monotonic()  # coming home, the switch made the tenant resident
        async with self._db.platform_transaction(placement=target) as tx:
            if target != SHARED:
                await registry.set_residency(tx, tenant_id, "resident")
            if by is not None:
                await _record(tx, tenant_id, by, source, target, rows)
        if target != SHARED:
            writable = time.monotonic()
        await self._checkpoint("resident")
        if source != SHARED:
            async with self._db.platform_transaction(placement=source) as tx:
                await registry.set_residency(tx, tenant_id, "departed")
        await self._checkpoint("departed")
        await asyncio.sleep(max(0.0, switched + REFRESH_SECONDS - time.monotonic()))
        await self._delete_copy(tenant_id, source)
        await self._checkpoint("cleaned")
        async with self._db.platform_transaction() as tx:
            await registry.end_move(tx, tenant_id)
        return writable

    async def _undo(self, tenant_id: UUID, source: str, target: str) -> None:
        await self._delete_copy(tenant_id, target)
        if target == SHARED:
            async with self._db.platform_transaction() as tx:
                await registry.set_residency(tx, tenant_id, "departed")
        async with self._db.platform_transaction(placement=source) as tx:
            await registry.set_residency(tx, tenant_id, "resident")
            if source == SHARED:
                await registry.end_move(tx, tenant_id)
        if source != SHARED:
            async with self._db.platform_transaction() as tx:
                await registry.end_move(tx, tenant_id)

    async def _delete_copy(self, tenant_id: UUID, placement: str) -> None:
        """The tenant's rows in a placement it left (or never finished arriving in), children
        first; outside the home database its row too."""
        async with self._db.platform_transaction(placement=placement) as tx:
            if await registry.residency(tx, tenant_id) not in {"departed", "arriving"}:
                return
            await registry.cleaning_up(tx, tenant_id)
            await registry.as_replica(tx)
            for table in reversed(await rows.tenant_tables(tx)):
                await tx.renew(RENEW_SECONDS)
                if table.qualified != TENANTS:
                    await registry.delete_rows(tx, table, tenant_id)
            await registry.audit_chain_left(tx, tenant_id)
            if placement != SHARED:
                await registry.delete_tenant_row(tx, tenant_id)


async def _digests(
    src: Transaction, dst: Transaction, table: rows.Table, tenant_id: UUID
) -> tuple[tuple[int, str], tuple[int, str]]:
    """Both sides' (count, checksum) of the tenant's rows of `table`."""
    return (
        await registry.digest(src, table, tenant_id),
        await registry.digest(dst, table, tenant_id),
    )


async def _copy_table(
    src: Transaction,
    dst: Transaction,
    table: rows.Table,
    tenant_id: UUID,
    target: str,
    *,
    since: str | None = None,
    replace: bool = False,
) -> None:
    """The tenant's rows of `table`, in batches; `since`: only those written after that
    snapshot; `replace`: each replacing its earlier copy."""
    write = rows.upsert_rows if replace else rows.insert_rows
    batch: list[str] = []
    async for line in rows.stream_rows(src, table, tenant_id, changed_since=since):
        if table.qualified == TENANTS:  # the silo's view: arriving, living there
            row = json.loads(line)
            row.update(placement=target)
            batch.append(json.dumps(row))
        else:
            batch.append(line)
        if len(batch) == BATCH_ROWS:
            await dst.renew(RENEW_SECONDS)
            await write(dst, table, batch, tenant_id)
            batch = []
    if batch:
        await dst.renew(RENEW_SECONDS)
        await write(dst, table, batch, tenant_id)


async def _record(
    tx: Transaction, tenant_id: UUID, by: Actor, source: str, target: str, copied: int
) -> None:
    await AuditLog.record_in(
        tx,
        tenant_id=tenant_id,
        action="tenant.moved",
        object_type="tenant",
        object_id=tenant_id,
        by=by,
        metadata={"from": source, "to": target, "rows": copied},
    )
