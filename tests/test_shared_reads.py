"""One read for the requests that need the same thing at the same moment (registry/shared_reads.py)."""

from __future__ import annotations

import asyncio

import pytest

from registry.shared_reads import SharedReads


async def test_requests_asking_together_share_one_read_and_the_next_reads_again() -> None:
    reads = SharedReads()
    calls = []

    async def read() -> str:
        calls.append(1)
        await asyncio.sleep(0.01)
        return f"lần {len(calls)}"

    answers = await asyncio.gather(*(reads.once("k", read) for _ in range(10)))
    assert answers == ["lần 1"] * 10 and len(calls) == 1
    assert not reads.in_progress("k")
    assert await reads.once("k", read) == "lần 2"


async def test_an_error_reaches_every_request_that_waited_and_the_next_one_reads_again() -> None:
    reads = SharedReads()
    calls = []

    async def read() -> int:
        calls.append(1)
        await asyncio.sleep(0.01)
        if len(calls) == 1:
            raise LookupError("không đọc được")
        return 7

    answers = await asyncio.gather(*(reads.once("k", read) for _ in range(3)), return_exceptions=True)
    assert [type(answer) for answer in answers] == [LookupError] * 3 and len(calls) == 1
    assert await reads.once("k", read) == 7


async def test_a_request_that_goes_away_does_not_cancel_the_read_for_the_others() -> None:
    reads = SharedReads()
    release = asyncio.Event()

    async def read() -> str:
        await release.wait()
        return "xong"

    leaving = asyncio.ensure_future(reads.once("k", read))
    staying = asyncio.ensure_future(reads.once("k", read))
    await asyncio.sleep(0)
    leaving.cancel()
    release.set()
    assert await staying == "xong"
    with pytest.raises(asyncio.CancelledError):
        await leaving


def test_a_read_left_unfinished_by_an_ended_event_loop_is_not_waited_for() -> None:
    reads = SharedReads()

    async def never() -> str:
        await asyncio.Event().wait()
        return "không bao giờ"

    async def start_and_leave() -> None:
        asyncio.ensure_future(reads.once("k", never))
        await asyncio.sleep(0)

    async def read_again() -> str:
        async def read() -> str:
            return "mới"

        assert not reads.in_progress("k")
        return await asyncio.wait_for(reads.once("k", read), timeout=5)

    # A loop that stopped running with the read still pending (as a worker's loop may end).
    ended = asyncio.new_event_loop()
    try:
        ended.run_until_complete(start_and_leave())
        assert asyncio.run(read_again()) == "mới"
    finally:
        left = asyncio.all_tasks(ended)
        for task in left:
            task.cancel()
        ended.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        ended.close()
