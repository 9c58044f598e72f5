"""Recomputing a tenant's chain: the first edited, deleted, inserted or reordered row, named.

The walk starts at the tenant's newest retention checkpoint (or the genesis hash), reads the rows
in seq order in batches (never the whole log in memory), and at the end holds the last row to
the chain head the trigger keeps. Rows appended while it runs are followed to the new head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.audit_log import repository
from tenantry.audit_log.models import GENESIS, ChainStatus, chain_hash

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction

BATCH = 5000
# About a second's walk on a small machine (53,000 rows/s measured).
FULL_WALK_ROWS = 50_000


class Tampered(Exception):
    pass


@dataclass
class _Walk:
    seq: int
    prev: bytes
    rows: int = 0

    def step(self, row: DictRow) -> None:
        seq = row["seq"]
        expected = self.seq + 1
        if seq < expected:
            raise Tampered(f"row seq {seq} is out of order or duplicated (inserted or reordered)")
        if seq > expected:
            missing = f"seq {expected}" if seq == expected + 1 else f"seq {expected}..{seq - 1}"
            raise Tampered(f"row {missing} is missing (deleted)")
        if bytes(row["prev_hash"]) != self.prev:
            raise Tampered(
                f"row seq {seq} does not follow row seq {self.seq} "
                "(reordered, inserted, or the row before it was rewritten)"
            )
        if chain_hash(self.prev, row) != bytes(row["hash"]):
            raise Tampered(f"row seq {seq} was edited (its content does not match its hash)")
        self.seq, self.prev = seq, bytes(row["hash"])
        self.rows += 1


def _start(
    checkpoint: int, checkpoint_hash: bytes, head_seq: int, since: tuple[int, bytes] | None
) -> _Walk:
    # A chain short enough to walk in well under a second is always walked in full.
    if since is not None and since[0] > checkpoint and head_seq - checkpoint > FULL_WALK_ROWS:
        return _Walk(*since)
    return _Walk(checkpoint, checkpoint_hash)


async def verify_chain(
    tx: Transaction, tenant_id: UUID, tenant: str, since: tuple[int, bytes] | None = None
) -> ChainStatus:
    """Walk the chain from the checkpoint, or, for a chain longer than `FULL_WALK_ROWS`, from
    `since` (a row seq and hash an earlier walk ended on, after the checkpoint): then only the
    rows after it are checked."""
    start = await repository.chain_state(tx, tenant_id)
    checkpoint = start["checkpoint_seq"] or 0
    head_seq = start["head_seq"] or 0
    walk = _start(checkpoint, bytes(start["checkpoint_hash"] or GENESIS), head_seq, since)
    resumed = walk.seq if walk.seq > checkpoint else None

    def status(problem: str | None = None) -> ChainStatus:
        return ChainStatus(
            tenant_id, tenant, walk.rows, head_seq, checkpoint, problem, walk.prev, resumed
        )

    try:
        while True:
            while rows := await repository.batch(tx, tenant_id, walk.seq, BATCH):
                for row in rows:
                    walk.step(row)
            state = await repository.chain_state(tx, tenant_id)
            head_seq, head_hash = state["head_seq"] or 0, bytes(state["head_hash"] or GENESIS)
            if head_seq <= walk.seq:
                break
            # Appended since the last batch, or missing: one more pass tells which.
            if not await repository.batch(tx, tenant_id, walk.seq, 1):
                missing = walk.seq + 1
                span = f"seq {missing}" if missing == head_seq else f"seq {missing}..{head_seq}"
                return status(f"row {span} is missing (deleted)")
        if walk.seq > head_seq:
            return status(f"row seq {walk.seq} is beyond the chain head seq {head_seq} (inserted)")
        if walk.prev != head_hash:
            return status(f"row seq {walk.seq} does not match the chain head (edited or replaced)")
    except Tampered as exc:
        return status(str(exc))
    return status()
