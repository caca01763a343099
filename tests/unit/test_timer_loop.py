"""The runtime's one timer loop (:func:`services.runtime.timers.fire_due`) on the in-memory timer
store: due timers fire once, earliest first, their events written to the outbox with the service's
source and the clock's time; a moved timer looks again later; a failing one is parked; a timer
whose lock ``fire`` would not wait for is left for the next round."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
from uuid6 import uuid7

from schemas.base import Message
from schemas.situations import SlaWarning
from services.runtime import events as runtime_events
from services.runtime.clock import ManualClock
from services.runtime.db import Connection
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.timers import PARK_AFTER, Fired, Timer, fire_due, route
from tests.support.fakes.pool import OutboxPool
from tests.support.fakes.timers import InMemoryTimerStore
from tests.support.samples import sample

pytestmark = pytest.mark.unit

T0 = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)
SOURCE = "/commande/test"


def warning(aggregate_id: UUID) -> SlaWarning:
    return sample(SlaWarning, situation_id=aggregate_id)


@dataclass
class Loop:
    """The loop on a fake store and a manual clock, with a ``fire`` the test sets."""

    decide: Callable[[Timer, datetime], Fired]
    store: InMemoryTimerStore = field(default_factory=InMemoryTimerStore)
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0))
    published: list[OutRecord] = field(default_factory=list)
    calls: list[tuple[str, datetime]] = field(default_factory=list)

    async def fire(self, conn: Connection, timer: Timer, now: datetime) -> Fired:
        self.calls.append((timer.key, now))
        return self.decide(timer, now)

    async def look(self) -> tuple[int, list[Message]]:
        """One look: how many fired, and the events written to the outbox."""
        before = len(self.published)
        fired = await fire_due(OutboxPool(self.published).as_pool(), "test", self.fire,
                               source=SOURCE, clock=self.clock, stores=self.store)
        records = self.published[before:]
        envelopes = [runtime_events.decode(InRecord(r.topic, 0, 0, r.key, r.value, r.headers))
                     for r in records]
        assert all((e.source, e.time) == (SOURCE, self.clock.now()) for e in envelopes)
        return fired, [e.event for e in envelopes]

    def state(self, key: str) -> tuple[str, int]:
        row = self.store.rows[key]
        return row.state, row.failures


async def test_due_timers_fire_once_earliest_first() -> None:
    aid = uuid7()
    loop = Loop(lambda timer, now: Fired(events=[warning(timer.aggregate_id)]))
    await loop.store.insert([Timer("b", "k", aid, T0 + timedelta(minutes=1)),
                             Timer("a", "k", aid, T0 + timedelta(minutes=2)),
                             Timer("c", "k", aid, T0 + timedelta(hours=1))], T0)
    assert await loop.look() == (0, [])
    loop.clock.advance(timedelta(minutes=5))
    fired, emitted = await loop.look()
    assert (fired, emitted) == (2, [warning(aid), warning(aid)])
    assert [key for key, _ in loop.calls] == ["b", "a"]
    assert (loop.state("a"), loop.state("b"), loop.state("c")) == (
        ("fired", 0), ("fired", 0), ("pending", 0))
    assert await loop.look() == (0, []), "each timer fires once"


async def test_a_timer_that_no_longer_applies_is_cancelled() -> None:
    loop = Loop(lambda timer, now: Fired(cancelled=True))
    await loop.store.insert([Timer("a", "k", uuid7(), T0)], T0)
    assert await loop.look() == (0, [])
    assert loop.state("a") == ("cancelled", 0)


async def test_a_moved_timer_looks_again_at_its_new_time_only() -> None:
    aid = uuid7()
    later = T0 + timedelta(minutes=10)
    loop = Loop(lambda timer, now: Fired(events=[warning(aid)], again=later) if now < later
                else Fired())
    await loop.store.insert([Timer("a", "k", aid, T0)], T0)
    assert await loop.look() == (1, [warning(aid)])
    assert await loop.store.pending(aid) == [Timer("a", "k", aid, later)]
    loop.clock.set(later - timedelta(seconds=1))
    assert await loop.look() == (0, [])
    loop.clock.set(later)
    assert await loop.look() == (0, [])
    assert loop.state("a") == ("fired", 0)
    assert len(loop.calls) == 2


async def test_a_failing_timer_is_parked_after_repeated_looks_and_the_others_still_fire() -> None:
    aid = uuid7()

    def decide(timer: Timer, now: datetime) -> Fired:
        if timer.key == "broken":
            raise ValueError("a bug, not a state of the world")
        return Fired(events=[warning(aid)])

    loop = Loop(decide)
    await loop.store.insert([Timer("broken", "k", aid, T0),
                             Timer("fine", "k", aid, T0 + timedelta(seconds=1))], T0)
    loop.clock.advance(timedelta(minutes=1))
    assert await loop.look() == (1, [warning(aid)])
    assert loop.state("broken") == ("pending", 1)
    for _ in range(PARK_AFTER - 1):
        assert await loop.look() == (0, [])
    assert loop.state("broken") == ("parked", PARK_AFTER)
    assert loop.store.rows["broken"].last_error == "ValueError"
    await loop.look()
    assert len(loop.calls) == PARK_AFTER + 1, "a parked timer is not taken again"


async def test_a_timer_whose_lock_is_held_waits_for_the_next_look_uncounted() -> None:
    held = [True]

    def decide(timer: Timer, now: datetime) -> Fired:
        if held[0]:
            raise asyncpg.LockNotAvailableError("held by a command")
        return Fired(events=[warning(timer.aggregate_id)])

    loop = Loop(decide)
    aid = uuid7()
    await loop.store.insert([Timer("a", "k", aid, T0)], T0)
    assert await loop.look() == (0, [])
    assert loop.state("a") == ("pending", 0)
    held[0] = False
    assert await loop.look() == (1, [warning(aid)])


async def test_an_outage_is_not_a_failure_of_the_timer() -> None:
    def decide(timer: Timer, now: datetime) -> Fired:
        raise ConnectionRefusedError("PostgreSQL is away")

    loop = Loop(decide)
    await loop.store.insert([Timer("a", "k", uuid7(), T0)], T0)
    with pytest.raises(ConnectionRefusedError):
        await loop.look()
    assert loop.state("a") == ("pending", 0)


async def test_a_routed_fire_gives_each_kind_its_own_and_parks_a_kind_it_does_not_know() -> None:
    aid = uuid7()
    store = InMemoryTimerStore()
    published: list[OutRecord] = []

    async def warn(conn: Connection, timer: Timer, now: datetime) -> Fired:
        return Fired(events=[warning(aid)])

    async def drop(conn: Connection, timer: Timer, now: datetime) -> Fired:
        return Fired(cancelled=True)

    fire = route({"warn": warn, "drop": drop})
    await store.insert([Timer("w", "warn", aid, T0), Timer("d", "drop", aid, T0),
                        Timer("x", "unknown", aid, T0)], T0)
    for _ in range(PARK_AFTER):
        await fire_due(OutboxPool(published).as_pool(), "test", fire, source=SOURCE,
                       clock=ManualClock(T0), stores=store)
    assert len(published) == 1
    assert {k: (r.state, r.last_error) for k, r in store.rows.items()} == {
        "w": ("fired", None), "d": ("cancelled", None), "x": ("parked", "ValueError")}
