"""An in-memory :class:`~services.intake.event_requests.ports.EventLimits` for unit tests of the
event-request route (not shipped: the wheel holds no test fixture).

Honest to the SQL of :mod:`services.intake.event_requests.rate_limit`, and held to it by the same
contract suite (``tests/support/contracts/event_limits.py``):

* its time is a clock of its own (PostgreSQL's ``now()`` in the service), never the business
  clock: a test moves it to refill buckets and to start a new day;
* a bucket's level is ``event_bucket_level`` (what it held plus ``per_second`` for each second
  since it was last seen, at most ``burst``); a take records the level, less the token taken
  when there was one, and the time (a refused take too, as the upsert does); an address never
  seen starts full; the wait is :func:`~services.intake.event_requests.rate_limit.retry_after`;
* a recipient's count is per day in America/Toronto, and a refusal counts nothing; the wait
  until tomorrow is the wall-clock time to Halton's midnight (``UNTIL_TOMORROW`` subtracts
  local timestamps), rounded up, at least 1;
* rows are keyed by the same keyed hashes
  (:meth:`~services.intake.event_requests.rate_limit.SharedLimits.client_key`,
  :meth:`~services.intake.event_requests.rate_limit.SharedLimits.recipient_key`): no address is
  kept in clear here either;
* the pruning forgets buckets last seen ``refill`` or longer ago and the counts of past days.

There is no concurrency: one test is one caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from schemas.reference.calendar import ZONE
from services.intake.event_requests.rate_limit import LimitConfig, SharedLimits, retry_after
from services.intake.vault import Vault
from services.runtime.clock import ManualClock
from services.runtime.db import Connection

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
"""Where the fake's own clock starts unless given one (a Monday, 10:00 in Toronto)."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """A row of ``event_rate_buckets``: the tokens left when the address was last seen."""

    tokens: float
    seen_at: datetime


def bucket_level(bucket: Bucket, at: datetime, config: LimitConfig) -> float:
    """``event_bucket_level``: the bucket's level at ``at``."""
    elapsed = max(0.0, (at - bucket.seen_at).total_seconds())
    return min(float(config.burst), bucket.tokens + elapsed * config.per_second)


def seconds_until_tomorrow(now: datetime) -> float:
    """``UNTIL_TOMORROW``: from the local wall-clock time in Halton to the next local midnight."""
    local = now.astimezone(ZONE).replace(tzinfo=None)
    return (datetime.combine(local.date() + timedelta(days=1), time()) - local).total_seconds()


class InMemoryEventLimits:
    """The two limits in two dicts (see the module's docstring).

    Args:
        config: the limits (the defaults unless given).
        clock: the limits' own clock (a :class:`ManualClock` at :data:`START` unless given).
        keyed_hash: the keyed hash of the row keys (the development vault's unless given).

    Attributes:
        clock: the limits' clock, which the tests move.
        buckets: the buckets by client key (what ``event_rate_buckets`` holds).
        counts: the confirmation e-mails counted, by recipient key and Halton day
            (``event_confirmation_counts``).
    """

    def __init__(self, config: LimitConfig | None = None, *, clock: ManualClock | None = None,
                 keyed_hash: Callable[[bytes], bytes] | None = None) -> None:
        self._keys = SharedLimits(config or LimitConfig(),
                                  keyed_hash or Vault.development().fingerprint)
        self.clock = clock or ManualClock(START)
        self.buckets: dict[bytes, Bucket] = {}
        self.counts: dict[tuple[bytes, date], int] = {}

    @property
    def config(self) -> LimitConfig:
        """The limits' settings."""
        return self._keys.config

    def bound(self, conn: Connection) -> InMemoryEventLimits:
        """These limits, whatever the connection (the route's ``limits`` in unit tests)."""
        return self

    def today(self) -> date:
        """The day in Halton by the limits' clock (the day a count is kept under)."""
        return self.clock.now().astimezone(ZONE).date()

    async def take(self, client: str) -> int | None:
        key, now = self._keys.client_key(client), self.clock.now()
        found = self.buckets.get(key)
        if found is None:  # the INSERT: a full bucket less the token taken
            self.buckets[key] = Bucket(float(self.config.burst) - 1, now)
            return None
        level = bucket_level(found, now, self.config)
        allowed = level >= 1
        self.buckets[key] = Bucket(level - 1 if allowed else level, now)
        return None if allowed else retry_after(self.buckets[key].tokens, self.config.per_second)

    async def count_confirmation(self, email: str) -> int | None:
        key = (self._keys.recipient_key(email), self.today())
        sent = self.counts.get(key, 0)
        if sent >= self.config.confirmations_per_day:
            return max(1, math.ceil(seconds_until_tomorrow(self.clock.now())))
        self.counts[key] = sent + 1
        return None

    async def prune(self) -> tuple[int, int]:
        now, today = self.clock.now(), self.today()
        idle = [k for k, b in self.buckets.items() if b.seen_at < now - self.config.refill]
        past = [k for k in self.counts if k[1] < today]
        for key in idle:
            del self.buckets[key]
        for count in past:
            del self.counts[count]
        return len(idle), len(past)
