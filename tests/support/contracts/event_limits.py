"""The contract of :class:`~services.intake.event_requests.ports.EventLimits`: what the route may
rely on, asserted on the port's observable outcomes only.

One suite, two implementations: ``tests/unit/test_event_limits_fake.py`` runs it on the
in-memory fake (its own clock, moved at once), ``tests/integration/test_event_limits_pg.py`` on
PostgreSQL (intake's migrations in a scratch schema; ``now()`` is the real time, so time passes
by sleeping, and each statement runs outside a transaction, with its own ``now()``, as the
route's take does). A subclass gives two fixtures: ``make`` (the limits of a
:class:`LimitConfig`, on empty tables; one call per test) and ``time`` (:class:`LimitTime`).

The rates are chosen so that the assertions hold however long the real steps take, within
wide bounds (a step taking most of a second on a busy machine does not change an outcome).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from services.intake.event_requests.ports import EventLimits
from services.intake.event_requests.rate_limit import LimitConfig
from tests.support.fakes.event_limits import seconds_until_tomorrow

MakeLimits = Callable[[LimitConfig], EventLimits]
CLIENT = "203.0.113.9"
OTHER_CLIENT = "203.0.113.90"
INBOX = "someone@example.org"


class LimitTime(Protocol):
    """The limits' time, as a test can read and move it."""

    def now(self) -> datetime:
        """The limits' current time (within a second or so on PostgreSQL)."""
        ...

    async def elapse(self, seconds: float) -> None:
        """Let at least ``seconds`` pass on the limits' clock."""
        ...

    async def a_day_passes(self) -> None:
        """Make the counts kept so far yesterday's (buckets: no promise either way)."""
        ...


class EventLimitsContract:
    """The port's contract; subclasses provide the ``make`` and ``time`` fixtures."""

    async def test_a_new_client_has_a_full_bucket_then_waits_for_a_token(
            self, make: MakeLimits) -> None:
        limits = make(LimitConfig(burst=3, per_minute=6))  # a token every 10 s
        assert [await limits.take(CLIENT) for _ in range(3)] == [None, None, None]
        assert await limits.take(CLIENT) == 10  # ceil((1 - ~0) / 0.1)
        assert await limits.take(CLIENT) == 10  # a refused request takes nothing, waits the same

    async def test_each_client_address_has_its_own_bucket(self, make: MakeLimits) -> None:
        limits = make(LimitConfig(burst=1, per_minute=1))
        assert await limits.take(CLIENT) is None
        assert await limits.take(CLIENT) == 60
        assert await limits.take(OTHER_CLIENT) is None
        assert await limits.take(OTHER_CLIENT) == 60

    async def test_a_bucket_refills_at_its_rate_up_to_its_burst(
            self, make: MakeLimits, time: LimitTime) -> None:
        limits = make(LimitConfig(burst=2, per_minute=600))  # 10 tokens a second
        assert [await limits.take(CLIENT) for _ in range(3)] == [None, None, 1]
        await time.elapse(0.5)  # five tokens' worth, but the bucket holds two
        assert [await limits.take(CLIENT) for _ in range(3)] == [None, None, 1]

    async def test_a_refused_request_keeps_what_had_refilled(
            self, make: MakeLimits, time: LimitTime) -> None:
        limits = make(LimitConfig(burst=1, per_minute=30))  # a token every 2 s
        assert await limits.take(CLIENT) is None
        await time.elapse(1.2)  # 0.6 of a token
        assert await limits.take(CLIENT) == 1  # ceil((1 - 0.6) / 0.5)
        await time.elapse(1.2)  # 1.2: the refusal took nothing and did not start over
        assert await limits.take(CLIENT) is None

    async def test_one_inbox_is_counted_however_its_address_is_written(
            self, make: MakeLimits, time: LimitTime) -> None:
        limits = make(LimitConfig(confirmations_per_day=2))
        assert await limits.count_confirmation("someone+a@example.org") is None
        assert await limits.count_confirmation(" SOMEONE@Example.org") is None
        wait = await limits.count_confirmation("someone+b@example.org")
        expected = max(1, math.ceil(seconds_until_tomorrow(time.now())))
        assert wait is not None
        assert abs(wait - expected) <= 2  # midnight in Halton
        assert 1 <= wait <= 25 * 3600
        again = await limits.count_confirmation(INBOX)  # the same inbox, refused again
        assert again is not None
        assert abs(again - wait) <= 2
        assert await limits.count_confirmation("someone-else@example.org") is None

    async def test_a_new_day_counts_afresh(self, make: MakeLimits, time: LimitTime) -> None:
        limits = make(LimitConfig(confirmations_per_day=1))
        assert await limits.count_confirmation(INBOX) is None
        assert await limits.count_confirmation(INBOX) is not None
        await time.a_day_passes()
        assert await limits.count_confirmation(INBOX) is None
        assert await limits.count_confirmation(INBOX) is not None

    async def test_prune_forgets_buckets_full_again_and_nothing_else(
            self, make: MakeLimits, time: LimitTime) -> None:
        limits = make(LimitConfig(burst=1, per_minute=60))  # full again 1 s after the last take
        assert await limits.take(CLIENT) is None
        assert await limits.count_confirmation(INBOX) is None
        assert await limits.prune() == (0, 0)
        await time.elapse(1.3)
        assert await limits.take(OTHER_CLIENT) is None
        assert await limits.prune() == (1, 0)  # CLIENT's; OTHER_CLIENT's was just used
        assert await limits.take(CLIENT) is None  # no row is a full bucket
        assert await limits.take(CLIENT) is not None
        assert await limits.take(OTHER_CLIENT) is not None  # kept: still empty

    async def test_prune_forgets_past_days_counts_and_keeps_todays(
            self, make: MakeLimits, time: LimitTime) -> None:
        limits = make(LimitConfig(confirmations_per_day=1))
        assert await limits.count_confirmation(INBOX) is None
        await time.a_day_passes()
        assert await limits.count_confirmation(INBOX) is None  # today's
        assert await limits.prune() == (0, 1)  # yesterday's
        assert await limits.count_confirmation(INBOX) is not None  # today's is kept
