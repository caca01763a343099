"""convening's timers on the runtime's one timer loop (:mod:`services.runtime.timers`): what a due
timer does, read from the aggregate's current state (:func:`firing`).

* a situation timer (24/48-hour SLA, lead acceptance) raises its event if it still applies
  (:func:`services.convening.timers.fire`), saved with the situation; otherwise it is cancelled;
* the agenda timer issues the meeting's agendas (or their coalesced update), and looks again
  when an update waits for its window or the table's lead time moved.

Lock order: a situation timer never waits for a situation row while the loop holds the timer row
(``NOWAIT``: the loop leaves the timer for the next round), because the command handler holds the
situation row while it cancels that situation's timers. The agenda timer does wait for the
placement lock: placement only ever inserts new agenda timers, never touches a held one.
"""

from __future__ import annotations

from datetime import datetime

from services.convening.agenda import agenda_due_at
from services.convening.handlers import SOURCE, Deps, issue_agendas
from services.convening.ports import ConveningStore, Stores
from services.convening.situation import evolve
from services.convening.store import PgConveningStore
from services.convening.timers import Timer, fire, from_row
from services.runtime import timers as runtime
from services.runtime.db import Connection, Pool
from services.runtime.service import BackgroundLoop

WORKER = "convening-timers"
PARK_AFTER = runtime.PARK_AFTER
"""Failures (each at a later poll) after which one of convening's timers is parked."""


def timer_worker(deps: Deps, stores: Stores = PgConveningStore) -> BackgroundLoop:
    """The runtime's timer worker with convening's :func:`firing`, every ``timer_poll_seconds``;
    after the ``n``-th failure in a row it waits ``timer_poll_seconds * min(2^n, 30)``."""
    return runtime.timer_worker(WORKER, firing(deps, stores), source=SOURCE, clock=deps.clock,
                                interval=deps.settings.timer_poll_seconds,
                                stores=_timer_stores(stores), park_after=PARK_AFTER)


async def fire_due(deps: Deps, pool: Pool, schema: str, stores: Stores = PgConveningStore) -> int:
    """Fire every timer due now (one look of the worker); returns how many emitted events."""
    return await runtime.fire_due(pool, schema, firing(deps, stores), source=SOURCE,
                                  clock=deps.clock, stores=_timer_stores(stores),
                                  park_after=PARK_AFTER, worker=WORKER)


def _timer_stores(stores: Stores) -> runtime.TimerStores:
    def of(conn: Connection) -> runtime.TimerStore:
        return stores(conn).timer_store
    return of


def firing(deps: Deps, stores: Stores = PgConveningStore) -> runtime.Fire:
    """convening's decision on a due timer, in the timer's transaction."""

    async def fire_timer(conn: Connection, row: runtime.Timer, now: datetime) -> runtime.Fired:
        store = stores(conn)
        timer = from_row(row)
        if timer.kind == "agenda":
            return await _agenda(deps, store, timer, now)
        state = await store.lock_situation(timer.aggregate_id, nowait=True)
        if state is None:
            return runtime.Fired(cancelled=True)
        event = fire(timer, state, now)
        if event is None:
            return runtime.Fired(cancelled=True)
        await store.save_situation(evolve(state, event), state.version, now)
        return runtime.Fired(events=[event])

    return fire_timer


async def _agenda(deps: Deps, store: ConveningStore, timer: Timer,
                  now: datetime) -> runtime.Fired:
    """Issue the meeting's agendas; an agenda timer is settled ``fired`` even when there was
    nothing to issue (the meeting or its table is gone)."""
    meeting = await store.read_meeting(timer.aggregate_id)  # its slot never changes once stored
    if meeting is None:
        return runtime.Fired()
    # Wait for placement on the meeting's table (it writes invitations under this lock):
    # placement never waits for an existing agenda timer's row, so this cannot deadlock; a
    # try-lock would starve under load.
    await store.lock_placement([meeting.district])
    table = deps.directory.current().table(meeting.district)
    if table is None:
        return runtime.Fired()
    due = agenda_due_at(meeting, table)
    if now < due:  # the table's lead time changed since the timer was set
        return runtime.Fired(again=due)
    issued, again = await issue_agendas(store, meeting, table, deps.settings.agenda_update_window,
                                        now)
    return runtime.Fired(events=[*issued], again=again)
