"""A per-address limit for the public verify endpoints (API and page): each verification parses a file
and validates a path, so nobody may make the registry do it without bound. Counted per worker process,
in a sliding window; the client address is the one `http.client_ip` gives (behind trusted proxies only,
X-Forwarded-For)."""

from __future__ import annotations

import time
from collections import deque

from registry.errors import TooManyRequests

VERIFY_LIMIT = 30
VERIFY_WINDOW_SECONDS = 60.0
# Bounded memory: the oldest addresses are forgotten first.
MAX_ADDRESSES = 10_000


class SlidingWindow:
    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> None:
        """Count one use by `key`; TooManyRequests (429, Vietnamese message) past the limit."""
        clock = time.monotonic()
        hits = self.hits.pop(key, None) or deque()
        while hits and clock - hits[0] > self.window:
            hits.popleft()
        self.hits[key] = hits  # (re-inserted: most recent last)
        if len(hits) >= self.limit:
            retry = max(1, int(self.window - (clock - hits[0])) + 1)
            raise TooManyRequests(
                f"Bạn đã kiểm tra quá {self.limit} chứng thư trong {int(self.window)} giây; vui lòng thử lại sau "
                f"{retry} giây.", retry_after=retry, code="verify_rate_limited")
        hits.append(clock)
        while len(self.hits) > MAX_ADDRESSES:
            self.hits.pop(next(iter(self.hits)))

    def reset(self) -> None:
        self.hits.clear()


VERIFY_LIMITER = SlidingWindow(VERIFY_LIMIT, VERIFY_WINDOW_SECONDS)
