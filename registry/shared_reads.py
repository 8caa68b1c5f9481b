"""One read for the requests that need the same thing at the same moment.

A worker's first requests arrive together (32 at once, the way a browser or a client's pool sends them), and
each used to read for itself what it found missing: the credential behind a new token (and each wrote its
last use, queued for SQLite's write lock), the agency paths that choose a list's plan (the requests that did
not wait for them planned the province's list agency by agency: 53 s for the last of 32 at a million
certificates), what is derived for a principal. `SharedReads` lets the first request read and the others
wait for that read.
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

    def in_progress(self, key: Hashable) -> bool:
        return self._current(key) is not None

    async def once(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """What `read` answers (or raises), read by the first request asking for `key` and awaited by those
        asking while it runs. The read is shielded: a request that goes away (its client left) does not
        cancel it for the others. Once it ended, the next request reads again."""
        pending = self._current(key)
        if pending is None:
            pending = asyncio.ensure_future(read())
            self._pending[key] = pending
            pending.add_done_callback(functools.partial(self._finished, key))
        return await asyncio.shield(pending)

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
