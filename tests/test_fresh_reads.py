"""Reads of the same thing by concurrent requests share one query (`SharedReads.fresh`), but never a query
that was already in flight when a caller asked: that one may have read before a commit the caller must see. On
PostgreSQL every request reads the audit chain's head, which tells whether who is asking may have changed
(registry/auth/known.py); a revoked token must stop working at once, so a shared read is only ever one that
started after its caller asked."""

from __future__ import annotations

import asyncio

import pytest

from registry import db
from registry.audit import service as audit
from registry.auth.principal import system_principal
from registry.shared_reads import SharedReads


class CountingRead:
    """A read that answers its place among the reads started (1, 2, …), each held until its gate opens."""

    def __init__(self) -> None:
        self.started = 0
        self.gates: dict[int, asyncio.Event] = {}
        self.all_open = False
        self.failing = False

    def open(self, number: int) -> None:
        self.gates.setdefault(number, asyncio.Event()).set()

    def open_all(self) -> None:
        self.all_open = True
        for gate in self.gates.values():
            gate.set()

    async def __call__(self) -> int:
        self.started += 1
        number = self.started
        if not self.all_open:
            await self.gates.setdefault(number, asyncio.Event()).wait()
        if self.failing:
            raise RuntimeError(f"read {number} failed")
        return number


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_callers_during_a_read_share_the_next_one() -> None:
    shared, read = SharedReads(), CountingRead()
    first = asyncio.create_task(shared.fresh("head", read))
    await settle()
    assert read.started == 1
    # Twenty callers ask while the first read is in flight: none takes its answer, all share one more.
    later = [asyncio.create_task(shared.fresh("head", read)) for _ in range(20)]
    await settle()
    assert read.started == 1  # the next read waits for the one in flight
    read.open_all()
    assert await first == 1
    assert await asyncio.gather(*later) == [2] * 20
    assert read.started == 2
    # With nothing in flight, a caller starts a read of its own at once.
    assert await shared.fresh("head", read) == 3


async def test_a_caller_never_takes_a_read_that_started_before_it_asked() -> None:
    shared, read = SharedReads(), CountingRead()
    first = asyncio.create_task(shared.fresh("head", read))
    await settle()
    second = asyncio.create_task(shared.fresh("head", read))
    await settle()
    # The first read ends; the one its waiters share starts only now.
    read.open(1)
    assert await first == 1
    await settle()
    assert read.started == 2 and not second.done()
    # A caller arriving while that second read is in flight waits for a third.
    third = asyncio.create_task(shared.fresh("head", read))
    read.open(2)
    assert await second == 2
    await settle()
    assert read.started == 3 and not third.done()
    read.open(3)
    assert await third == 3


async def test_names_are_read_apart() -> None:
    shared, heads, sessions = SharedReads(), CountingRead(), CountingRead()
    one = asyncio.create_task(shared.fresh("head", heads))
    other = asyncio.create_task(shared.fresh("sessions", sessions))
    await settle()
    assert (heads.started, sessions.started) == (1, 1)
    heads.open_all()
    sessions.open_all()
    assert (await one, await other) == (1, 1)


async def test_an_error_reaches_every_caller_of_that_read_and_the_next_call_reads_again() -> None:
    shared, read = SharedReads(), CountingRead()
    read.failing = True
    callers = [asyncio.create_task(shared.fresh("head", read)) for _ in range(3)]
    await settle()
    read.open_all()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert [str(outcome) for outcome in outcomes] == ["read 1 failed", "read 2 failed", "read 2 failed"]
    read.failing = False
    assert await shared.fresh("head", read) == 3


async def test_a_caller_going_away_does_not_cancel_the_others_read() -> None:
    shared, read = SharedReads(), CountingRead()
    first = asyncio.create_task(shared.fresh("head", read))
    await settle()
    leaving, staying = (asyncio.create_task(shared.fresh("head", read)) for _ in range(2))
    await settle()
    first.cancel()  # the client that asked first hangs up
    leaving.cancel()
    read.open_all()
    assert await staying == 2
    for gone in (first, leaving):
        with pytest.raises(asyncio.CancelledError):
            await gone
    assert read.started == 2


async def test_a_commit_before_the_call_is_seen_though_a_read_was_in_flight(migrated: str) -> None:
    """On both engines: the head read while another caller's read of it is still in flight, after a commit,
    is the new head (the token revoked meanwhile is known to be)."""
    release, read_done = asyncio.Event(), asyncio.Event()

    async def slow_head() -> tuple[int, str]:
        head = await audit._read_head()
        read_done.set()
        await release.wait()
        return head

    before = asyncio.create_task(db.read_while_unchanged("test head", slow_head))
    await read_done.wait()
    async with db.transaction():
        audit.record(system_principal("test"), "test.change", "test", "1")
    after = asyncio.create_task(db.read_while_unchanged("test head", slow_head))
    await settle()
    release.set()
    old, new = await before, await after
    assert new[0] == old[0] + 1 and new[1] != old[1]
    assert await audit.head() == new


async def test_concurrent_requests_share_the_head_read_on_postgresql(migrated: str, settings) -> None:
    if settings.database_url.startswith("sqlite:///"):
        pytest.skip("SQLite reads the head again only after a commit (tests/test_committed_state.py)")
    async with db.transaction():
        audit.record(system_principal("test"), "test.change", "test", "1")
    queries = []

    async def read_head() -> tuple[int, str]:
        queries.append(1)
        return await audit._read_head()

    heads = await asyncio.gather(*(db.read_while_unchanged("test head", read_head) for _ in range(32)))
    assert heads == [await audit._read_head()] * 32
    # The first caller's read, and the one all the others share: two round trips instead of 32.
    assert len(queries) == 2
    # Inside a transaction the read is the caller's own, on the transaction's connection.
    async with db.transaction():
        assert await db.read_while_unchanged("test head", read_head) == heads[0]
    assert len(queries) == 3
