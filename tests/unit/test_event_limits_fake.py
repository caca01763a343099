"""The event-request limits' contract on the in-memory fake the route's unit tests use (its own
clock, moved at once), and what only a clock a test sets can show: the exact wait until Halton's
midnight, rounded up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.event_requests.ports import EventLimits
from services.intake.event_requests.rate_limit import LimitConfig
from services.runtime.clock import ManualClock
from tests.support.contracts.event_limits import INBOX, EventLimitsContract, LimitTime, MakeLimits
from tests.support.fakes.event_limits import START, InMemoryEventLimits

pytestmark = pytest.mark.unit


class FakeTime:
    """The fake's clock, moved at once."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now()

    async def elapse(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    async def a_day_passes(self) -> None:
        self.clock.advance(timedelta(days=1))


class TestInMemoryEventLimits(EventLimitsContract):
    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(START)

    @pytest.fixture
    def make(self, clock: ManualClock) -> MakeLimits:
        def made(config: LimitConfig) -> EventLimits:
            return InMemoryEventLimits(config, clock=clock)
        return made

    @pytest.fixture
    def time(self, clock: ManualClock) -> LimitTime:
        return FakeTime(clock)


@pytest.mark.parametrize(("at", "wait"), [
    (datetime(2026, 1, 5, 15, 0, tzinfo=UTC), 14 * 3600),  # 10:00 in Toronto
    (datetime(2026, 1, 5, 15, 0, 0, 500_000, tzinfo=UTC), 14 * 3600),  # 50399.5 s: rounded up
    (datetime(2026, 1, 6, 4, 59, 59, 900_000, tzinfo=UTC), 1),  # 0.1 s before midnight: 1
    (datetime(2026, 3, 8, 5, 30, tzinfo=UTC), 84_600),  # 00:30 on the spring-forward day: wall
])
async def test_a_refused_confirmation_waits_until_midnight_in_halton(at: datetime,
                                                                    wait: int) -> None:
    limits = InMemoryEventLimits(LimitConfig(confirmations_per_day=1), clock=ManualClock(at))
    assert await limits.count_confirmation(INBOX) is None
    assert await limits.count_confirmation(INBOX) == wait


async def test_no_address_is_kept_in_clear() -> None:
    limits = InMemoryEventLimits()
    await limits.take("203.0.113.9")
    await limits.count_confirmation(INBOX)
    kept = [*limits.buckets, *(key for key, _ in limits.counts)]
    assert len(kept) == 2
    assert all(len(key) == 32 and b"203.0.113" not in key and b"someone" not in key
               for key in kept)
