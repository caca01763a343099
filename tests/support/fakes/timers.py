"""The durable timers in memory: the :class:`~services.runtime.timers.TimerStore` that services'
fakes keep their timers in, answering as the SQL of :class:`~services.runtime.timers.PgTimerStore`
does (the contract suite ``tests/support/contracts/timer_store.py`` holds both to the same
outcomes). The payload goes through JSON as through ``jsonb``.

Not modelled: locks (one caller at a time: ``take_due`` never skips a held row) and transactions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from services.runtime.db import Connection
from services.runtime.timers import Fired, Settled, Timer


@dataclass(slots=True)
class TimerRow:
    """A row of ``durable_timers``."""

    timer: Timer
    created_at: datetime
    state: str = "pending"
    settled_at: datetime | None = None
    failures: int = 0
    last_error: str | None = None


def _stored(timer: Timer) -> Timer:
    """``timer`` as it reads back: its payload through JSON."""
    payload: dict[str, str] = json.loads(json.dumps(dict(timer.payload)))
    return replace(timer, payload=payload)


@dataclass
class InMemoryTimerStore:
    """The ``durable_timers`` table of one schema, in memory."""

    rows: dict[str, TimerRow] = field(default_factory=dict)

    def __call__(self, conn: Connection) -> InMemoryTimerStore:
        """The store of any connection: this one."""
        return self

    async def insert(self, timers: Sequence[Timer], now: datetime) -> None:
        for t in timers:  # ON CONFLICT (timer_key) DO NOTHING
            if t.key not in self.rows:
                self.rows[t.key] = TimerRow(_stored(t), now)

    async def pending(self, aggregate_id: UUID) -> list[Timer]:
        return [row.timer for row in self.rows.values()
                if row.state == "pending" and row.timer.aggregate_id == aggregate_id]

    async def take_due(self, now: datetime, skip: Sequence[str]) -> Timer | None:
        due = [row.timer for key, row in self.rows.items()
               if row.state == "pending" and row.timer.due_at <= now and key not in skip]
        return min(due, key=lambda t: (t.due_at, t.key), default=None)

    async def settle(self, keys: Sequence[str], state: Settled, now: datetime) -> None:
        for key in keys:
            row = self.rows.get(key)
            if row is not None and row.state == "pending":
                row.state, row.settled_at = state, now

    async def reschedule(self, key: str, due_at: datetime) -> None:
        row = self.rows.get(key)
        if row is not None and row.state == "pending":
            row.timer = replace(row.timer, due_at=due_at)

    async def arm(self, timer: Timer, now: datetime, *, unless_firing: bool = False) -> bool:
        """No transaction ever holds a row here: always armed."""
        row = self.rows.get(timer.key)
        if row is None:
            self.rows[timer.key] = TimerRow(_stored(timer), now)
        elif row.state != "parked":
            due = min(row.timer.due_at, timer.due_at) if row.state == "pending" else timer.due_at
            row.timer = replace(row.timer, due_at=due, payload=_stored(timer).payload)
            row.state, row.settled_at = "pending", None
        return True

    async def schedule(self, timer: Timer, now: datetime) -> None:
        row = self.rows.get(timer.key)
        if row is None:
            self.rows[timer.key] = TimerRow(_stored(timer), now)
        elif row.state != "parked":
            row.timer = replace(row.timer, due_at=timer.due_at, payload=_stored(timer).payload)
            row.state, row.settled_at = "pending", None

    async def failed(self, key: str, error: str, park_after: int,
                     now: datetime) -> tuple[str, int] | None:
        row = self.rows.get(key)
        if row is None or row.state != "pending":
            return None
        row.failures += 1
        row.last_error = error
        if row.failures >= park_after:
            row.state, row.settled_at = "parked", now
        return row.state, row.failures


async def deferred(conn: Connection, timer: Timer, now: datetime) -> Fired:
    """A fire that leaves a timer as it is (pending, at its time): for a test that fires only
    some kinds in a schema other tests share (``route({**fires, **{k: deferred ...}})``)."""
    return Fired(again=timer.due_at)
