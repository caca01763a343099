"""The durable timers' loop: fire each due timer exactly once, even with several instances.

One transaction per timer: take the earliest due pending row ``FOR UPDATE SKIP LOCKED`` (another
instance skips it), decide what it raises from the aggregate's current state, write the outbox
rows and mark the row ``fired`` (or ``cancelled`` when it no longer applies), then commit. A crash
before the commit leaves the row pending for the next look; after it, the row is never taken again.

Lock order: the loop never waits for a situation row while holding a timer row (``NOWAIT``, then
it leaves the timer for the next round), because the command handler holds the situation row
while it cancels that situation's timers. It does wait for the placement lock (agenda timers):
placement only ever inserts new agenda timers, never touches a held one.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from schemas.base import Message
from services.convening.agenda import agenda_due_at
from services.convening.handlers import SOURCE, Deps, issue_agendas
from services.convening.ports import ConveningStore, Stores
from services.convening.situation import evolve
from services.convening.store import PgConveningStore
from services.convening.timers import Timer, fire
from services.runtime import outbox
from services.runtime.db import DB_UNAVAILABLE, Pool
from services.runtime.events import emit_all
from services.runtime.failure import FailurePolicy, describe
from services.runtime.logging import get_logger
from services.runtime.service import BackgroundLoop, Service
from services.runtime.worker import worker

log = get_logger("commande.convening.timers")


class _Later(Exception):
    """The timer was moved (its due time changed): commit the move, fire nothing."""


def timer_worker(deps: Deps, stores: Stores = PgConveningStore) -> BackgroundLoop:
    """The background worker firing due timers every ``timer_poll_seconds``; after the ``n``-th
    failure in a row it waits ``timer_poll_seconds * min(2^n, 30)``."""
    poll = deps.settings.timer_poll_seconds

    async def step(svc: Service) -> bool:
        await fire_due(deps, svc.pool, svc.name, stores)
        return False

    return worker("convening-timers", step, interval=poll,
                  failure=FailurePolicy(base=2 * poll, cap=30 * poll))


async def fire_due(deps: Deps, pool: Pool, schema: str, stores: Stores = PgConveningStore) -> int:
    """Fire every timer due now; returns how many fired (cancelled ones are not counted)."""
    fired = 0
    skip: list[str] = []
    while True:
        now = deps.clock.now()
        key: str | None = None
        try:
            async with pool.acquire() as conn, conn.transaction():
                store = stores(conn)
                timer = await store.take_due_timer(now, skip)
                if timer is None:
                    return fired
                key = timer.key
                try:
                    events, again = await _fire(deps, store, timer, now)
                except _Later:
                    skip.append(key)
                    continue
                await outbox.add(conn, schema, emit_all(events, source=SOURCE, time=now))
                if again is not None:  # an agenda update waits for its window: look again then
                    await store.reschedule_timer(key, again)
                    skip.append(key)
                else:
                    await store.settle_timers([key], "fired" if events or timer.kind == "agenda"
                                              else "cancelled", now)
            if events:
                fired += 1
                log.info("timer fired", kind=timer.kind, events=len(events),
                         aggregate_id=str(timer.aggregate_id))
        except asyncpg.LockNotAvailableError:  # a command holds the situation: next round
            if key is not None:
                skip.append(key)
        except DB_UNAVAILABLE:
            raise
        except Exception as exc:
            if key is None:
                raise
            skip.append(key)
            await _failed(pool, stores, key, exc, now)


PARK_AFTER = 3
"""Failures (each at a later poll) after which a timer is parked instead of tried again."""


async def _failed(pool: Pool, stores: Stores, key: str, exc: Exception, now: datetime) -> None:
    """Count the failure in the timer's row: a warning while it is tried again, one error line
    when it is parked (the same input fails the same way: a bug, not a state of the world)."""
    error = describe(exc)
    async with pool.acquire() as conn:
        outcome = await stores(conn).timer_failed(key, error, PARK_AFTER, now)
    if outcome is None:
        return
    state, failures = outcome
    if state == "parked":
        log.error("timer parked after repeated failures; see docs/operations.md, 'Timers'",
                  timer_key=key, failures=failures, error=error)
    else:
        log.warning("timer failed; tried again at the next poll", timer_key=key,
                    failures=failures, error=error)


async def _fire(deps: Deps, store: ConveningStore, timer: Timer,
                now: datetime) -> tuple[list[Message], datetime | None]:
    """What firing ``timer`` emits, and when it must fire again (``None``: it is done)."""
    if timer.kind == "agenda":
        return await _agenda(deps, store, timer, now)
    state = await store.lock_situation(timer.aggregate_id, nowait=True)
    if state is None:
        return [], None
    event = fire(timer, state, now)
    if event is None:
        return [], None
    await store.save_situation(evolve(state, event), state.version, now)
    return [event], None


async def _agenda(deps: Deps, store: ConveningStore, timer: Timer,
                  now: datetime) -> tuple[list[Message], datetime | None]:
    # Wait for placement (it writes invitations under this lock): placement never waits for an
    # existing agenda timer's row, so this cannot deadlock; a try-lock would starve under load.
    await store.lock_placement()
    meeting = await store.read_meeting(timer.aggregate_id)
    if meeting is None:
        return [], None
    table = deps.directory.current().table(meeting.district)
    if table is None:
        return [], None
    due = agenda_due_at(meeting, table)
    if now < due:  # the table's lead time changed since the timer was set
        await store.reschedule_timer(timer.key, due)
        raise _Later
    issued, again = await issue_agendas(store, meeting, table, deps.settings.agenda_update_window,
                                        now)
    return [*issued], again
