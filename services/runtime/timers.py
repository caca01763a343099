"""The durable timers, once for every service: a row per timer in the schema's ``durable_timers``
table, the :class:`TimerStore` port over it, and one loop (:func:`timer_worker`) that fires what
is due exactly once, even with several instances.

A service starts timers in the transactions that decide them (:meth:`TimerStore.insert`,
:meth:`TimerStore.arm`, or :meth:`TimerStore.schedule` for a timer that follows a due time kept
with the aggregate, moving it later as well as earlier), cancels those that no longer apply
(:meth:`TimerStore.settle`), and gives the loop one :data:`Fire` function: what a due timer
emits now, read from the aggregate's current state, and whether it is done, cancelled, or must
look again later.

The loop takes one timer per transaction: the earliest due pending row ``FOR UPDATE SKIP LOCKED``
(another instance skips it), calls ``fire``, writes the outbox rows and settles the row (or moves
it), then commits. A crash before the commit leaves the row pending for the next look; after it,
the row is never taken again. ``fire`` may decline to wait for a lock (``NOWAIT``): the timer is
left for the next round, uncounted. Any other failure is counted in the row: a warning while it is
tried again at the next poll, one error line when it is parked at the :data:`PARK_AFTER`-th (the
same input fails the same way: a bug, not a state of the world); docs/operations.md, 'Timers'.
An outage of PostgreSQL is not a failure of a timer: the worker waits, uncounted.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

import asyncpg

from schemas.base import Message
from services.runtime import outbox
from services.runtime.clock import Clock
from services.runtime.db import DB_UNAVAILABLE, Connection, Pool
from services.runtime.events import emit_all
from services.runtime.failure import FailurePolicy, describe
from services.runtime.logging import get_logger
from services.runtime.service import BackgroundLoop, Service
from services.runtime.worker import worker

__all__ = ["PARK_AFTER", "Fire", "Fired", "PgTimerStore", "Timer", "TimerStore", "TimerStores",
           "fire_due", "route", "timer_worker"]

log = get_logger("commande.timers")

PARK_AFTER = 3
"""Failures (each at a later poll) after which a timer is parked instead of tried again."""

Settled = Literal["fired", "cancelled"]


@dataclass(frozen=True, slots=True)
class Timer:
    """One durable timer.

    Attributes:
        key: unique; starting the same timer twice is one timer.
        kind: what it is for (the service's own vocabulary).
        aggregate_id: what it is about (a situation, a meeting, a request).
        due_at: when it fires.
        payload: a few strings the service's ``fire`` reads (never identifying data).
    """

    key: str
    kind: str
    aggregate_id: UUID
    due_at: datetime
    payload: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fired:
    """What firing a timer did.

    Attributes:
        events: what it emits (written to the outbox in the timer's transaction).
        again: look again at this time (the timer stays pending, moved); ``None``: it is done.
        cancelled: it no longer applied (settled ``cancelled`` rather than ``fired``).
    """

    events: Sequence[Message] = ()
    again: datetime | None = None
    cancelled: bool = False


class TimerStore(Protocol):
    """The schema's durable timers, in one transaction."""

    async def insert(self, timers: Sequence[Timer], now: datetime) -> None:
        """Start timers; one already started (same key, whatever its state) is left as it is."""
        ...

    async def pending(self, aggregate_id: UUID) -> list[Timer]:
        """The pending timers of an aggregate (no order)."""
        ...

    async def take_due(self, now: datetime, skip: Sequence[str]) -> Timer | None:
        """The earliest due pending timer (then by key) not in ``skip`` and held by no other
        transaction, locked; ``None`` if none."""
        ...

    async def settle(self, keys: Sequence[str], state: Settled, now: datetime) -> None:
        """Mark pending timers ``fired`` or ``cancelled`` (others are left as they are)."""
        ...

    async def reschedule(self, key: str, due_at: datetime) -> None:
        """Move a pending timer."""
        ...

    async def arm(self, timer: Timer, now: datetime, *, unless_firing: bool = False) -> bool:
        """Make ``timer`` pending at its ``due_at`` (the earlier, if it is pending; again, if it
        was settled); a parked timer stays parked. Returns ``False`` only with
        ``unless_firing``, when the loop holds the timer's row right now: then nothing is
        written and nothing waits. That is for a timer whose ``fire`` reads, after a lock the
        caller holds, the state the caller is writing (convening's agenda timer: placement
        holds the placement lock and arms; the loop holds the row and waits for that lock, so
        waiting for the row here would deadlock, and the firing loop sees what placement left
        waiting and moves the timer itself). Only valid when no other transaction inserts the
        same key at the same time."""
        ...

    async def schedule(self, timer: Timer, now: datetime) -> None:
        """Make ``timer`` pending at exactly its ``due_at`` (moved earlier or later, if it is
        pending; again, if it was settled); a parked timer stays parked."""
        ...

    async def failed(self, key: str, error: str, park_after: int,
                     now: datetime) -> tuple[str, int] | None:
        """Count a failure of a pending timer, parking it at the ``park_after``-th; its state
        and failures now (``None`` if it was not pending)."""
        ...


TimerStores = Callable[[Connection], TimerStore]
"""The timer store of a transaction's connection (:class:`PgTimerStore`)."""

Fire = Callable[[Connection, Timer, datetime], Awaitable[Fired]]
"""A service's decision on a due timer, in the timer's transaction: ``fire(conn, timer, now)``."""


def route(fires: Mapping[str, Fire]) -> Fire:
    """One :data:`Fire` for a schema whose timers are of several kinds (a service with more than
    one aggregate): each timer goes to the fire of its kind; a kind with none fails (and, the
    same every time, is parked)."""

    async def fire(conn: Connection, timer: Timer, now: datetime) -> Fired:
        found = fires.get(timer.kind)
        if found is None:
            raise ValueError(f"no fire for timer kind {timer.kind!r}")
        return await found(conn, timer, now)

    return fire


INSERT_TIMERS = """
INSERT INTO durable_timers (timer_key, kind, aggregate_id, due_at, payload, created_at)
SELECT k, kd, a, d, p::jsonb, $6
FROM unnest($1::text[], $2::text[], $3::uuid[], $4::timestamptz[], $5::text[]) AS t(k, kd, a, d, p)
ON CONFLICT (timer_key) DO NOTHING
"""
_COLUMNS = "timer_key, kind, aggregate_id, due_at, payload"
PENDING_TIMERS = f"""
SELECT {_COLUMNS} FROM durable_timers WHERE aggregate_id = $1 AND state = 'pending'
"""
TAKE_DUE_TIMER = f"""
SELECT {_COLUMNS} FROM durable_timers
WHERE state = 'pending' AND due_at <= $1 AND timer_key <> ALL($2::text[])
ORDER BY due_at, timer_key
LIMIT 1
FOR UPDATE SKIP LOCKED
"""
SETTLE_TIMERS = """
UPDATE durable_timers SET state = $2, settled_at = $3
WHERE timer_key = ANY($1::text[]) AND state = 'pending'
"""
RESCHEDULE_TIMER = """
UPDATE durable_timers SET due_at = $2 WHERE timer_key = $1 AND state = 'pending'
"""
ARM_TIMER = """
INSERT INTO durable_timers AS t (timer_key, kind, aggregate_id, due_at, payload, created_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
ON CONFLICT (timer_key) DO UPDATE SET
    due_at = CASE WHEN t.state = 'pending' THEN LEAST(t.due_at, EXCLUDED.due_at)
                  ELSE EXCLUDED.due_at END,
    payload = EXCLUDED.payload, state = 'pending', settled_at = NULL
WHERE t.state <> 'parked'
"""
HOLD_TIMER = "SELECT timer_key FROM durable_timers WHERE timer_key = $1 FOR UPDATE SKIP LOCKED"
TIMER_EXISTS = "SELECT EXISTS (SELECT 1 FROM durable_timers WHERE timer_key = $1)"
SCHEDULE_TIMER = """
INSERT INTO durable_timers AS t (timer_key, kind, aggregate_id, due_at, payload, created_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
ON CONFLICT (timer_key) DO UPDATE SET
    due_at = EXCLUDED.due_at, payload = EXCLUDED.payload, state = 'pending', settled_at = NULL
WHERE t.state <> 'parked'
"""
TIMER_FAILED = """
UPDATE durable_timers SET failures = failures + 1, last_error = $2,
                          state = CASE WHEN failures + 1 >= $3 THEN 'parked' ELSE state END,
                          settled_at = CASE WHEN failures + 1 >= $3 THEN $4 ELSE settled_at END
WHERE timer_key = $1 AND state = 'pending'
RETURNING state, failures
"""


def _payload(timer: Timer) -> str:
    return json.dumps(dict(timer.payload), sort_keys=True)


def _timer(row: Any) -> Timer:
    payload = row["payload"]
    found = json.loads(payload) if isinstance(payload, str) else payload
    return Timer(key=row["timer_key"], kind=row["kind"], aggregate_id=row["aggregate_id"],
                 due_at=row["due_at"], payload={str(k): str(v) for k, v in found.items()})


class PgTimerStore:
    """The :class:`TimerStore` on PostgreSQL, in the transaction of ``conn`` (whose
    ``search_path`` is the service's schema)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def insert(self, timers: Sequence[Timer], now: datetime) -> None:
        """Start timers; one already started (same key) is left as it is."""
        if timers:
            await self._conn.execute(
                INSERT_TIMERS, [t.key for t in timers], [t.kind for t in timers],
                [t.aggregate_id for t in timers], [t.due_at for t in timers],
                [_payload(t) for t in timers], now)

    async def pending(self, aggregate_id: UUID) -> list[Timer]:
        """The pending timers of an aggregate."""
        return [_timer(r) for r in await self._conn.fetch(PENDING_TIMERS, aggregate_id)]

    async def take_due(self, now: datetime, skip: Sequence[str]) -> Timer | None:
        """The earliest due pending timer no other transaction holds, locked; ``None`` if none."""
        row = await self._conn.fetchrow(TAKE_DUE_TIMER, now, list(skip))
        return None if row is None else _timer(row)

    async def settle(self, keys: Sequence[str], state: Settled, now: datetime) -> None:
        """Mark pending timers ``fired`` or ``cancelled``."""
        if keys:
            await self._conn.execute(SETTLE_TIMERS, list(keys), state, now)

    async def reschedule(self, key: str, due_at: datetime) -> None:
        """Move a pending timer."""
        await self._conn.execute(RESCHEDULE_TIMER, key, due_at)

    async def arm(self, timer: Timer, now: datetime, *, unless_firing: bool = False) -> bool:
        """Make ``timer`` pending at its ``due_at`` (the earlier, if pending); parked stays;
        with ``unless_firing``, nothing when another transaction holds its row."""
        if (unless_firing and await self._conn.fetchval(HOLD_TIMER, timer.key) is None
                and await self._conn.fetchval(TIMER_EXISTS, timer.key)):
            return False  # held by the loop firing it (the row exists but was skipped)
        await self._conn.execute(ARM_TIMER, timer.key, timer.kind, timer.aggregate_id,
                                 timer.due_at, _payload(timer), now)
        return True

    async def schedule(self, timer: Timer, now: datetime) -> None:
        """Make ``timer`` pending at exactly its ``due_at``; parked stays."""
        await self._conn.execute(SCHEDULE_TIMER, timer.key, timer.kind, timer.aggregate_id,
                                 timer.due_at, _payload(timer), now)

    async def failed(self, key: str, error: str, park_after: int,
                     now: datetime) -> tuple[str, int] | None:
        """Count a failure of a pending timer, parking it at the ``park_after``-th."""
        row = await self._conn.fetchrow(TIMER_FAILED, key, error, park_after, now)
        return None if row is None else (str(row["state"]), int(row["failures"]))


# -- the loop ------------------------------------------------------------------------------------


def timer_worker(name: str, fire: Fire, *, source: str, clock: Clock, interval: float,
                 stores: TimerStores = PgTimerStore, channel: str | None = None,
                 park_after: int = PARK_AFTER) -> BackgroundLoop:
    """The background worker (:func:`services.runtime.worker.worker`) firing the service's due
    timers every ``interval`` seconds with ``fire``; the events carry ``source``. After the
    ``n``-th failure of a whole look in a row (PostgreSQL away) it waits
    ``interval * min(2^n, 30)``."""

    async def step(svc: Service) -> bool:
        await fire_due(svc.pool, svc.name, fire, source=source, clock=clock, stores=stores,
                       park_after=park_after, worker=name)
        return False

    return worker(name, step, interval=interval, channel=channel,
                  failure=FailurePolicy(base=2 * interval, cap=30 * interval))


async def fire_due(pool: Pool, schema: str, fire: Fire, *, source: str, clock: Clock,
                   stores: TimerStores = PgTimerStore, park_after: int = PARK_AFTER,
                   worker: str = "timers") -> int:
    """Fire every timer due now, one transaction each; returns how many emitted events."""
    fired = 0
    skip: list[str] = []
    while True:
        now = clock.now()
        key: str | None = None
        try:
            async with pool.acquire() as conn, conn.transaction():
                store = stores(conn)
                timer = await store.take_due(now, skip)
                if timer is None:
                    return fired
                key = timer.key
                done = await fire(conn, timer, now)
                await outbox.add(conn, schema, emit_all(done.events, source=source, time=now))
                if done.again is not None:  # looks again then; not twice in this round
                    await store.reschedule(key, done.again)
                    skip.append(key)
                else:
                    await store.settle([key], "cancelled" if done.cancelled else "fired", now)
            if done.events:
                fired += 1
                log.info("timer fired", worker=worker, kind=timer.kind, events=len(done.events),
                         aggregate_id=str(timer.aggregate_id))
        except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError):
            # fire would not wait for a lock, or PostgreSQL broke a cycle of waits with a
            # command (intake's withdrawal locks the referral, then the situation; retention
            # the situation, then the referral): contention, not a failure; next round
            if key is not None:
                skip.append(key)
        except DB_UNAVAILABLE:
            raise
        except Exception as exc:
            if key is None:
                raise
            skip.append(key)
            await _failed(pool, stores, key, exc, now, park_after, worker)


async def _failed(pool: Pool, stores: TimerStores, key: str, exc: Exception, now: datetime,
                  park_after: int, worker: str) -> None:
    """Count the failure in the timer's row: a warning while it is tried again, one error line
    when it is parked."""
    error = describe(exc)
    async with pool.acquire() as conn:
        outcome = await stores(conn).failed(key, error, park_after, now)
    if outcome is None:
        return
    state, failures = outcome
    if state == "parked":
        log.error("timer parked after repeated failures; see docs/operations.md, 'Timers'",
                  worker=worker, timer_key=key, failures=failures, error=error)
    else:
        log.warning("timer failed; tried again at the next poll", worker=worker, timer_key=key,
                    failures=failures, error=error)
