"""What every :class:`~services.runtime.timers.TimerStore` does, observed through the port.

:class:`TimerStoreContract` is run twice: on the in-memory fake (``tests/unit/test_timer_store_fake.py``)
and on PostgreSQL in a scratch schema with the runtime's migrations
(``tests/integration/test_timer_store_pg.py``). A subclass provides a ``store`` fixture: a store
over an empty ``durable_timers`` table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from uuid6 import uuid7

from services.runtime.timers import Timer, TimerStore

T0 = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)


def timer(aggregate_id: UUID, due_at: datetime, key: str | None = None, kind: str = "reminder",
          **payload: str) -> Timer:
    return Timer(key=key or f"{kind}/{aggregate_id}", kind=kind, aggregate_id=aggregate_id,
                 due_at=due_at, payload=payload)


class TimerStoreContract:
    """The :class:`TimerStore` port's promises."""

    async def test_a_timer_started_twice_is_one_timer_with_its_payload(
            self, store: TimerStore) -> None:
        aid = uuid7()
        first = timer(aid, T0 + timedelta(hours=24), started_at=T0.isoformat(), agency_id="a-1")
        await store.insert([first], T0)
        await store.insert([timer(aid, T0 + timedelta(hours=30)),
                            timer(aid, T0 + timedelta(hours=48), kind="purge")], T0)
        await store.insert([], T0)
        pending = sorted(await store.pending(aid), key=lambda t: t.key)
        assert pending == [timer(aid, T0 + timedelta(hours=48), kind="purge"), first]
        assert pending[1].payload == {"started_at": T0.isoformat(), "agency_id": "a-1"}
        assert await store.pending(uuid7()) == []

    async def test_the_earliest_due_timer_is_taken_first_then_by_key(
            self, store: TimerStore) -> None:
        aid = uuid7()
        at = T0 + timedelta(hours=1)
        late = timer(aid, at + timedelta(minutes=5), key=f"t/{aid}/c")
        early_a = timer(aid, at, key=f"t/{aid}/a")
        early_b = timer(aid, at, key=f"t/{aid}/b")
        future = timer(aid, at + timedelta(days=1), key=f"t/{aid}/d")
        await store.insert([late, early_b, future, early_a], T0)
        now = at + timedelta(minutes=10)
        assert await store.take_due(at - timedelta(seconds=1), []) is None
        assert await store.take_due(now, []) == early_a
        assert await store.take_due(now, [early_a.key]) == early_b
        assert await store.take_due(now, [early_a.key, early_b.key]) == late
        assert await store.take_due(now, [early_a.key, early_b.key, late.key]) is None
        assert await store.take_due(at, []) == early_a, "due at now is due"

    async def test_a_settled_timer_is_no_longer_pending_nor_taken(self, store: TimerStore) -> None:
        aid = uuid7()
        fired = timer(aid, T0, key="a")
        other = timer(aid, T0 + timedelta(minutes=1), key="b")
        await store.insert([fired, other], T0)
        await store.settle([fired.key, "no-such-timer"], "fired", T0)
        await store.settle([], "cancelled", T0)
        assert await store.pending(aid) == [other]
        assert await store.take_due(T0 + timedelta(hours=1), []) == other
        assert await store.failed(fired.key, "boom", 3, T0) is None
        await store.reschedule(fired.key, T0 + timedelta(days=1))
        await store.insert([fired], T0)  # started again: still settled
        await store.settle([other.key], "cancelled", T0)
        await store.settle([other.key], "fired", T0)  # settled once: stays cancelled
        assert await store.pending(aid) == []
        assert await store.take_due(T0 + timedelta(days=2), []) is None

    async def test_a_pending_timer_is_moved(self, store: TimerStore) -> None:
        aid = uuid7()
        moved = timer(aid, T0, started_at=T0.isoformat())
        later = T0 + timedelta(hours=3)
        await store.insert([moved], T0)
        await store.reschedule(moved.key, later)
        await store.reschedule("no-such-timer", later)
        assert await store.take_due(later - timedelta(seconds=1), []) is None
        taken = await store.take_due(later, [])
        assert taken is not None
        assert (taken.key, taken.due_at, taken.payload) == (moved.key, later, moved.payload)

    async def test_an_armed_timer_keeps_the_earlier_time_and_is_armed_again_once_fired(
            self, store: TimerStore) -> None:
        aid = uuid7()
        t1, t2, t3 = (T0 + timedelta(minutes=n) for n in (10, 20, 30))
        await store.arm(timer(aid, t2), T0)
        assert await store.pending(aid) == [timer(aid, t2)]
        await store.arm(timer(aid, t3), T0)
        assert await store.pending(aid) == [timer(aid, t2)], "the earlier stays"
        await store.arm(timer(aid, t1), T0)
        assert await store.pending(aid) == [timer(aid, t1)]
        await store.settle([timer(aid, t1).key], "fired", t1)
        assert await store.pending(aid) == []
        await store.arm(timer(aid, t3, note="again"), t2)
        assert await store.pending(aid) == [timer(aid, t3, note="again")], "armed again once fired"

    async def test_a_timer_nobody_is_firing_is_armed_unless_firing_too(
            self, store: TimerStore) -> None:
        aid = uuid7()
        t1, t2 = T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)
        assert await store.arm(timer(aid, t2), T0, unless_firing=True) is True  # a new one
        assert await store.arm(timer(aid, t1), T0, unless_firing=True) is True  # an earlier time
        assert await store.pending(aid) == [timer(aid, t1)]
        assert await store.arm(timer(aid, t2), T0) is True

    async def test_a_scheduled_timer_moves_to_exactly_its_time_and_is_pending_again(
            self, store: TimerStore) -> None:
        aid = uuid7()
        t1, t2, t3 = (T0 + timedelta(minutes=n) for n in (10, 20, 30))
        await store.schedule(timer(aid, t2), T0)
        assert await store.pending(aid) == [timer(aid, t2)]
        await store.schedule(timer(aid, t3, note="later"), T0)
        assert await store.pending(aid) == [timer(aid, t3, note="later")], "moved later"
        assert await store.take_due(t2, []) is None
        await store.schedule(timer(aid, t1), T0)
        assert await store.pending(aid) == [timer(aid, t1)], "moved earlier"
        await store.settle([timer(aid, t1).key], "cancelled", t1)
        assert await store.pending(aid) == []
        await store.schedule(timer(aid, t3), t2)
        assert await store.take_due(t3, []) == timer(aid, t3), "pending again once settled"
        assert await store.failed(timer(aid, t3).key, "boom", 1, t3) == ("parked", 1)
        await store.schedule(timer(aid, t1), t3)
        assert await store.pending(aid) == [], "a parked timer stays parked"

    async def test_a_failing_timer_is_parked_at_the_last_try_and_stays_parked(
            self, store: TimerStore) -> None:
        aid = uuid7()
        failing = timer(aid, T0)
        await store.insert([failing], T0)
        assert await store.failed(failing.key, "boom", 3, T0) == ("pending", 1)
        assert await store.failed(failing.key, "boom", 3, T0) == ("pending", 2)
        assert await store.take_due(T0, []) == failing, "tried again while below the limit"
        assert await store.failed(failing.key, "boom", 3, T0) == ("parked", 3)
        assert await store.failed(failing.key, "boom", 3, T0) is None
        assert await store.failed("no-such-timer", "boom", 3, T0) is None
        assert await store.pending(aid) == []
        await store.arm(failing, T0)
        assert await store.pending(aid) == [], "a parked timer stays parked"
        await store.settle([failing.key], "fired", T0)
        assert await store.take_due(T0 + timedelta(days=1), []) is None
