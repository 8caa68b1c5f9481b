"""Principals known from earlier requests, kept until the registry's data changes.

Finding who sends a request took two or three queries (the token or session with its user, person and
agency, then the user's grants) on every request. Whatever changes who someone is (a revoked token or role,
a deactivated user, a sign-out, an agency moved) is a change of registry data, and every such change
appends to the audit chain in its own transaction (db.transaction). So a principal read while the chain's
head was (seq, hash) is still right while the head is the same: one indexed read of one row checks that,
in every worker alike, including after a change made by another worker or by the command line.

What changes with time alone (a token's or session's end, the day a person left) is checked on every use;
a known principal past it is read again, so that the refusal says why as it always did. A change made
behind the registry's back (SQL typed by hand, which writes no audit entry) is seen within MAX_AGE: no
principal is used longer than that without being read again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from registry.auth.principal import Principal
from registry.shared_reads import SharedReads

# Credentials remembered per worker; past this many the oldest are forgotten first (one entry is well under
# a kilobyte, and a province has a few thousand staff).
CAPACITY = 20_000
MAX_AGE = timedelta(seconds=60)


@dataclass(slots=True)
class Known:
    principal: Principal
    # The state of the data it was read in (db.write_generation and the audit chain's head), and when.
    marker: Hashable
    read_at: datetime
    # The credential's row (api_token.id or auth_session.id) and when its last use was written down.
    credential_id: int
    touched_at: datetime
    # When the credential ends, and when the person left their agencies (no account from then on).
    ends_at: datetime | None
    left_at: datetime | None

    def usable(self, marker: Hashable, moment: datetime) -> bool:
        return (
            self.marker == marker
            and moment - self.read_at < MAX_AGE
            and (self.ends_at is None or moment < self.ends_at)
            and (self.left_at is None or moment < self.left_at)
        )


class KnownPrincipals:
    """Principals by the digest of their credential (never the credential itself)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._entries: dict[str, Known] = {}
        # Reads in progress, by credential and state of the data.
        self._reads = SharedReads()

    def get(self, key: str, marker: Hashable, moment: datetime) -> Known | None:
        known = self._entries.get(key)
        if known is None:
            return None
        if not known.usable(marker, moment):
            del self._entries[key]
            return None
        return known

    def put(self, key: str, known: Known) -> None:
        self._entries.pop(key, None)
        if len(self._entries) >= self._capacity:
            # Dicts keep insertion order: the first key is the one remembered longest ago.
            del self._entries[next(iter(self._entries))]
        self._entries[key] = known

    async def read_once(self, key: str, marker: Hashable, read: Callable[[], Awaitable[Known | None]]) -> Known | None:
        """The principal `read` finds (None: the credential does not act), kept for the next requests. Requests
        with the same credential arriving while it is being read wait for that read instead of each making
        their own: a client's burst of requests (the first ones of a new token, or any after a change of data)
        reads the credential once, and so writes down its last use once, not once per request (32 such writes
        queued for SQLite's write lock held a worker's requests for seconds)."""
        return await self._reads.once((key, marker), lambda: self._read_and_keep(key, read))

    async def _read_and_keep(self, key: str, read: Callable[[], Awaitable[Known | None]]) -> Known | None:
        known = await read()
        if known is not None:
            self.put(key, known)
        return known

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
        self._reads.clear()

    def __len__(self) -> int:
        return len(self._entries)
