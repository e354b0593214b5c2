"""Per-client token buckets: how writes over HTTP and over NATS are kept from flooding the store.

Each client (an address, a NATS inbox) has a bucket of ``burst`` tokens refilled at ``rate`` per
second; a write takes one. Memory is bounded: the least recently seen clients are forgotten first
(a forgotten client starts again with a full bucket, which only ever errs towards serving).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RateLimiter"]

MAX_CLIENTS = 65536
"""Buckets kept at most; beyond this the least recently seen client is forgotten."""


class RateLimiter:
    """``take(client)`` answers 0.0 when the write may go ahead, else the seconds to wait."""

    def __init__(self, rate: float, burst: int, *, max_clients: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)
        self.refused = 0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, client: str) -> float:
        if not self.enabled:
            return 0.0
        now = self.clock()
        tokens, at = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._store(client, tokens - 1.0, now)
            return 0.0
        self._store(client, tokens, now)
        self.refused += 1
        return (1.0 - tokens) / self.rate

    def _store(self, client: str, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
