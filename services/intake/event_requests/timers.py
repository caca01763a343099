"""The timers of community event requests, on the runtime's durable timers
(:mod:`services.runtime.timers`): a request's reminder and its contact purge (or the expiry of a
request nobody confirmed), and the pruning of the shared rate limits (housekeeping, not a timer).

A request has at most two timers, one per kind, keyed by kind and request id:
``event_reminder`` follows its ``next_reminder_at``, ``event_purge`` its ``purge_after``. Every
save of a request by the shell (:func:`save`) moves them to exactly those times, or cancels them
when those are ``None``, in the transaction that saves the request. A due timer is fired by the
runtime's one loop (:func:`fires`, in intake's one timer worker:
:mod:`services.intake.timer_loop`): it locks the request, asks the pure core
(:func:`~services.intake.event_requests.decide.decide_reminder`,
:func:`~services.intake.event_requests.decide.decide_purge`), saves it and returns the events and
the next due time of its kind (the second reminder level), in the timer's transaction. A level
fires once even with two instances or across a restart (the level is in the row and the timer is
settled with it), and a purge or an expiry happens once.

Lock order: the loop holds the timer's row, and a handler holding a request moves that request's
timers, so the loop never waits for a request (``NOWAIT``): a confirmation holding it is left to
finish, and the timer, moved or cancelled by it, is looked at again at the next poll. Time is
the service's clock (``ManualClock`` in tests, the offset-file clock in the demo).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.intake.event_requests.decide import (
    EventConfig,
    EventRequestState,
    decide_purge,
    decide_reminder,
)
from services.intake.event_requests.ports import (
    EventLimitStores,
    EventRequestStore,
    EventRequestStores,
)
from services.intake.event_requests.store import PgEventRequestStore
from services.runtime import timers as runtime
from services.runtime.db import Connection, Pool
from services.runtime.failure import FailurePolicy
from services.runtime.logging import get_logger
from services.runtime.service import BackgroundLoop, Service
from services.runtime.worker import worker

REMINDER = "event_reminder"
PURGE = "event_purge"
KINDS = (REMINDER, PURGE)
PRUNER = "intake-event-limits-pruning"
log = get_logger("commande.intake.event_requests")


def timer_key(kind: str, request_id: UUID) -> str:
    """The key of a request's timer of ``kind`` (one per kind and request)."""
    return f"{kind}/{request_id}"


def _due(kind: str, state: EventRequestState) -> datetime | None:
    return state.next_reminder_at if kind == REMINDER else state.purge_after


async def follow(timers: runtime.TimerStore, state: EventRequestState, now: datetime) -> None:
    """Move the request's timers to exactly its ``next_reminder_at`` and ``purge_after``, or
    cancel them when ``None``."""
    for kind in KINDS:
        key, due = timer_key(kind, state.request_id), _due(kind, state)
        if due is None:
            await timers.settle([key], "cancelled", now)
        else:
            await timers.schedule(runtime.Timer(key, kind, state.request_id, due), now)


async def save(store: EventRequestStore, state: EventRequestState, now: datetime) -> None:
    """Save a request and make its timers follow it (:func:`follow`), in one transaction: how the
    shell's handlers save."""
    await store.save_request(state)
    await follow(store.timer_store, state, now)


def fires(config: EventConfig, stores: EventRequestStores = PgEventRequestStore
          ) -> dict[str, runtime.Fire]:
    """The fire of each event-request timer kind (for :func:`services.runtime.timers.route`;
    intake's one timer worker: :mod:`services.intake.timer_loop`), in the timer's
    transaction."""

    async def fire(conn: Connection, timer: runtime.Timer, now: datetime) -> runtime.Fired:
        store = stores(conn)
        state = await store.get_request(timer.aggregate_id, nowait=True)
        due = None if state is None else _due(timer.kind, state)
        if state is None or due is None:
            return runtime.Fired(cancelled=True)
        if due > now:  # moved since it was taken (the save moves it too)
            return runtime.Fired(again=due)
        if timer.kind == REMINDER:
            decided = decide_reminder(state, now, config)
            if decided.events:
                log.info("event request reminder due", request_id=str(state.request_id),
                         district=state.district, level=decided.state.reminder_level)
        else:
            decided = decide_purge(state, now)
            if decided.events:  # purged or expired: the contact goes
                await store.delete_contact(state.request_id)
                log.info("event request expired unconfirmed" if decided.state.status == "expired"
                         else "event request contact purged", request_id=str(state.request_id),
                         district=state.district)
        await store.save_request(decided.state)
        return runtime.Fired(events=decided.events, again=_due(timer.kind, decided.state),
                             cancelled=not decided.events)

    return {kind: fire for kind in KINDS}


async def prune_limits(pool: Pool, limits: EventLimitStores) -> tuple[int, int]:
    """Delete the idle rate-limit buckets and past days' confirmation counts."""
    async with pool.acquire() as conn:
        return await limits(conn).prune()


def prune_worker(limits: EventLimitStores, interval: float) -> BackgroundLoop:
    """The background worker pruning the shared limits every ``interval`` seconds (a failed
    pass is tried again at the next tick)."""

    async def step(service: Service) -> bool:
        await prune_limits(service.pool, limits)
        return False

    return worker(PRUNER, step, interval=interval,
                  failure=FailurePolicy(base=interval, cap=interval))
