"""One read for the requests that need the same thing at the same moment.

A worker's first requests arrive together (32 at once, the way a browser or a client's pool sends them), and
each used to read for itself what it found missing: the credential behind a new token (and each wrote its
last use, queued for SQLite's write lock), the agency paths that choose a list's plan (the requests that did
not wait for them planned the province's list agency by agency: 53 s for the last of 32 at a million
certificates), what is derived for a principal. `SharedReads` lets the first request read and the others
wait for that read.

Some reads must not be shared that way: the audit chain's head tells whether anything changed since, and a
request arriving while a read of it is in flight may come after a commit that read did not see (a token
revoked by then would still be taken). `SharedReads.fresh` shares only a read that starts after its caller
asked: the one that starts when the read in flight ends.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class SharedReads:
    """Reads in progress, by key."""

    def __init__(self) -> None:
        self._pending: dict[Hashable, asyncio.Future[Any]] = {}
        # fresh(): by key, the read that starts once the one in flight ends, awaited by those asking meanwhile.
        self._following: dict[Hashable, asyncio.Future[Any]] = {}

    def in_progress(self, key: Hashable) -> bool:
        return self._current(key) is not None

    async def once(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """What `read` answers (or raises), read by the first request asking for `key` and awaited by those
        asking while it runs. The read is shielded: a request that goes away (its client left) does not
        cancel it for the others. Once it ended, the next request reads again."""
        pending = self._current(key)
        if pending is None:
            pending = self._in_flight(key, asyncio.ensure_future(read()))
        return await asyncio.shield(pending)

    async def fresh(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """What `read` answers (or raises), from a read that started after this call: the caller never takes
        the answer of a read already in flight, but waits for the next one, which starts as soon as that one
        ends and serves everyone who asked meanwhile. Shielded as `once` is. On PostgreSQL, where every
        request read the audit head in a round trip of its own, a handful of requests in flight now share
        each (README, "One head read for the requests in flight")."""
        following = self._following.get(key)
        if following is None or following.done() or following.get_loop() is not asyncio.get_running_loop():
            in_flight = self._current(key)
            if in_flight is None:
                return await self.once(key, read)
            following = asyncio.ensure_future(self._read_after(key, in_flight, read))
            self._following[key] = following
        return await asyncio.shield(following)

    async def _read_after(self, key: Hashable, in_flight: asyncio.Future[Any], read: Callable[[], Awaitable[T]]) -> T:
        await asyncio.wait([in_flight])  # its answer or error is its own callers'
        # This read is now the one in flight: whoever asks from here on waits for the next.
        started = asyncio.current_task()
        assert started is not None
        if self._following.get(key) is started:
            del self._following[key]
        self._in_flight(key, started)
        return await read()

    def _in_flight(self, key: Hashable, read: asyncio.Future[Any]) -> asyncio.Future[Any]:
        """`read` as the read of `key` in flight, until it ends."""
        self._pending[key] = read
        read.add_done_callback(functools.partial(self._finished, key))
        return read

    def _current(self, key: Hashable) -> asyncio.Future[Any] | None:
        pending = self._pending.get(key)
        # A read of another event loop (one that ended: a test's, a command's) is nobody's to wait for.
        if pending is None or pending.done() or pending.get_loop() is not asyncio.get_running_loop():
            return None
        return pending

    def _finished(self, key: Hashable, done: asyncio.Future[Any]) -> None:
        if self._pending.get(key) is done:
            del self._pending[key]
        if not done.cancelled():
            done.exception()  # retrieved: an error nobody waits for any more is not reported as unretrieved

    def clear(self) -> None:
        self._pending.clear()
        self._following.clear()
