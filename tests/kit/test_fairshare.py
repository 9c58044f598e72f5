"""The runtime pool's fair share: a tenant at its cap waits while others go on, waiting tenants
are served in turn, waits are bounded, and nothing leaks when a wait ends badly."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest

from tenantry.kit.errors import ConcurrencyLimited, DatabaseBusy
from tenantry.kit.fairshare import FairShare

A, B, C, X = (UUID(int=n) for n in (1, 2, 3, 4))


class Holder:
    """A request holding a slot until told to let go."""

    def __init__(self, share: FairShare, tenant: UUID, served: list[str], name: str) -> None:
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.task = asyncio.create_task(self._run(share, tenant, served, name))

    async def _run(self, share: FairShare, tenant: UUID, served: list[str], name: str) -> None:
        async with share.slot(tenant):
            served.append(name)
            self.entered.set()
            await self.release.wait()

    async def done(self) -> None:
        self.release.set()
        await self.task


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_cap_is_the_share_of_the_pool_and_at_least_one() -> None:
    assert FairShare(10, 0.5, 1).cap == 5
    assert FairShare(10, 0.3, 1).cap == 3
    assert FairShare(3, 0.1, 1).cap == 1
    with pytest.raises(ValueError, match="share"):
        FairShare(10, 0, 1)


async def test_a_tenant_at_its_cap_waits_while_another_tenant_proceeds() -> None:
    share = FairShare(capacity=4, share=0.5, max_wait_seconds=5)
    served: list[str] = []
    a1, a2 = Holder(share, A, served, "a1"), Holder(share, A, served, "a2")
    await settle()
    a3 = Holder(share, A, served, "a3")
    await settle()
    assert served == ["a1", "a2"]
    assert (share.in_use(A), share.waiting(A)) == (2, 1)
    b1 = Holder(share, B, served, "b1")
    await asyncio.wait_for(b1.entered.wait(), 1)  # B is not behind A's queue
    assert served == ["a1", "a2", "b1"]
    await a1.done()
    await asyncio.wait_for(a3.entered.wait(), 1)
    for holder in (a2, a3, b1):
        await holder.done()
    assert (share.in_use(A), share.in_use(B), share.waiting(A)) == (0, 0, 0)


async def test_waiting_tenants_are_served_in_turn_not_first_come() -> None:
    share = FairShare(capacity=1, share=1.0, max_wait_seconds=5)
    served: list[str] = []
    blocker = Holder(share, X, served, "x")
    await settle()
    queued = []
    for tenant, name in ((A, "a1"), (A, "a2"), (A, "a3"), (B, "b1"), (B, "b2"), (C, "c1")):
        queued.append(Holder(share, tenant, served, name))
        await settle()
    await blocker.done()
    for _ in queued:  # the one served lets go, and the next in turn is served
        await settle()
        current = next(h for h in queued if h.entered.is_set() and not h.release.is_set())
        await current.done()
    assert served == ["x", "a1", "b1", "c1", "a2", "b2", "a3"]


async def test_the_pool_itself_is_never_oversubscribed() -> None:
    share = FairShare(capacity=2, share=1.0, max_wait_seconds=5)
    served: list[str] = []
    held = [Holder(share, uuid4(), served, f"t{n}") for n in range(2)]
    await settle()
    late = Holder(share, uuid4(), served, "late")
    await settle()
    assert len(served) == 2
    await held[0].done()
    await asyncio.wait_for(late.entered.wait(), 1)
    await held[1].done()
    await late.done()


async def test_a_wait_is_bounded_and_refused_as_the_tenants_own_limit() -> None:
    share = FairShare(capacity=4, share=0.25, max_wait_seconds=0.05)
    served: list[str] = []
    a1 = Holder(share, A, served, "a1")
    await settle()
    with pytest.raises(ConcurrencyLimited) as refused:
        async with share.slot(A):
            pytest.fail("served beyond the cap")
    assert (refused.value.status, refused.value.code) == (429, "concurrency_limited")
    assert refused.value.retry_after >= 1
    assert share.waiting(A) == 0
    await a1.done()
    async with share.slot(A):  # nothing was leaked by the refusal
        assert share.in_use(A) == 1


async def test_a_full_pool_refuses_as_busy_not_as_the_tenants_limit() -> None:
    share = FairShare(capacity=2, share=0.5, max_wait_seconds=0.05)
    served: list[str] = []
    holders = [Holder(share, A, served, "a"), Holder(share, B, served, "b")]
    await settle()
    with pytest.raises(DatabaseBusy) as refused:
        async with share.slot(C):
            pytest.fail("served beyond the pool")
    assert refused.value.status == 503
    for holder in holders:
        await holder.done()


async def test_a_cancelled_waiter_leaves_its_place_and_the_slot_goes_on() -> None:
    share = FairShare(capacity=1, share=1.0, max_wait_seconds=5)
    served: list[str] = []
    blocker = Holder(share, X, served, "x")
    await settle()
    gone, next_in_line = Holder(share, A, served, "gone"), Holder(share, B, served, "b")
    await settle()
    gone.task.cancel()
    await settle()
    await blocker.done()
    await asyncio.wait_for(next_in_line.entered.wait(), 1)
    await next_in_line.done()
    assert served == ["x", "b"]
    assert (share.in_use(A), share.waiting(A), share.in_use(B)) == (0, 0, 0)


async def test_a_transaction_inside_another_of_the_same_tenant_reuses_its_slot() -> None:
    """Else a tenant at its cap whose requests nest a read would wait on itself."""
    share = FairShare(capacity=2, share=0.5, max_wait_seconds=0.05)
    async with share.slot(A), share.slot(A), share.slot(A):
        assert share.in_use(A) == 1
    assert share.in_use(A) == 0
