"""A token bucket per client address (pure: the caller passes the time in seconds).

Each address starts with ``burst`` tokens and gets ``per_minute`` back per minute, up to
``burst``; a request takes one. The table is bounded (least recently seen addresses are dropped
first, which only ever gives a forgotten address a full bucket again). It lives in the process:
with several intake instances behind a balancer each counts on its own, so the effective limit
is per instance.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets keyed by client address."""

    def __init__(self, burst: int, per_minute: float, max_clients: int = 10_000) -> None:
        if burst < 1 or per_minute <= 0:
            raise ValueError("burst must be >= 1 and per_minute > 0")
        self.burst = burst
        self.rate = per_minute / 60.0
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, client: str, now: float) -> float | None:
        """Take a token for ``client`` at ``now`` (seconds); ``None`` if allowed, else the
        whole seconds to wait before a token is back (for ``Retry-After``)."""
        bucket = self._buckets.pop(client, None) or _Bucket(float(self.burst), now)
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
        bucket.at = now
        self._buckets[client] = bucket
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return float(max(1, math.ceil((1.0 - bucket.tokens) / self.rate)))
