"""A token bucket per client address, for casting: ``rate`` per minute,
``burst`` at once. Over the limit, the caller answers 429 with Retry-After."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Take one token for ``client``: 0 if allowed, else the seconds to wait."""
        now = self.clock()
        with self._lock:
            tokens, since = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - since) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                self._forget_idle(now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate if self.rate > 0 else math.inf

    def _forget_idle(self, now: float) -> None:
        """Drop clients whose bucket is full again, so memory follows active clients."""
        if len(self._buckets) < 10_000:
            return
        refill = self.burst / self.rate if self.rate > 0 else math.inf
        self._buckets = {c: (t, s) for c, (t, s) in self._buckets.items() if now - s < refill}
