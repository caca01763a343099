"""The durable timers of community event requests: reminders, the contact purge (and the expiry of
requests nobody confirmed), and the pruning of the shared rate limits.

Each pass locks the due rows with ``FOR UPDATE SKIP LOCKED``, asks the pure core, saves the new
state and writes the events to the outbox in one transaction (:func:`remind` and :func:`purge`
do a batch on one transaction's store; the loops around them own the pool and the outbox): a
reminder level fires once even with two instances or across a restart (the level is in the
row), and a purge or an expiry happens once (a confirmation holding the row's lock is waited
for: it either confirms before the deadline or finds the request expired). Time is the
service's clock (``ManualClock`` in tests, the offset-file clock in the demo).
"""

from __future__ import annotations

from datetime import datetime

from services.intake.event_requests.decide import EventConfig, decide_purge, decide_reminder
from services.intake.event_requests.ports import EventRequestStore, EventRequestStores
from services.intake.event_requests.rate_limit import SharedLimits
from services.intake.event_requests.store import PgEventRequestStore
from services.intake.handlers import SOURCE
from services.runtime import events, outbox
from services.runtime.clock import Clock
from services.runtime.db import Pool
from services.runtime.failure import FailurePolicy
from services.runtime.kafka import OutRecord
from services.runtime.logging import get_logger
from services.runtime.service import BackgroundLoop, Service
from services.runtime.worker import worker

BATCH = 100
log = get_logger("commande.intake.event_requests")


async def remind(store: EventRequestStore, now: datetime, config: EventConfig,
                 limit: int = BATCH) -> tuple[int, list[OutRecord]]:
    """One batch of due reminders on ``store`` (one transaction's): asks the core, saves each
    request's next reminder; returns how many requests were due (``limit``: maybe more) and the
    records to put in the outbox."""
    due = await store.due_reminders(now, limit)
    records: list[OutRecord] = []
    for state in due:
        decided = decide_reminder(state, now, config)
        await store.save_request(decided.state)
        records.extend(events.emit(e, source=SOURCE, time=now) for e in decided.events)
        if decided.events:
            log.info("event request reminder due", request_id=str(state.request_id),
                     district=state.district, level=decided.state.reminder_level)
    return len(due), records


async def purge(store: EventRequestStore, now: datetime,
                limit: int = BATCH) -> tuple[int, list[OutRecord]]:
    """One batch of due purges on ``store`` (one transaction's): deletes each contact due (an
    unconfirmed request expires) and saves the request; returns how many requests were due and
    the records to put in the outbox."""
    due = await store.due_purges(now, limit)
    records: list[OutRecord] = []
    for state in due:
        decided = decide_purge(state, now)
        if decided.events:  # purged or expired: the contact goes
            await store.delete_contact(state.request_id)
        await store.save_request(decided.state)
        records.extend(events.emit(e, source=SOURCE, time=now) for e in decided.events)
        if decided.events and decided.state.status == "expired":
            log.info("event request expired unconfirmed", request_id=str(state.request_id),
                     district=state.district)
    return len(due), records


async def fire_reminders(pool: Pool, schema: str, now: datetime, config: EventConfig, *,
                         stores: EventRequestStores = PgEventRequestStore) -> int:
    """Publish every reminder due by ``now`` (both levels when both fell due), a batch per
    transaction; returns how many."""
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due, records = await remind(stores(conn), now, config)
            await outbox.add(conn, schema, records)
        total += len(records)
        if due < BATCH:
            return total


async def purge_contacts(pool: Pool, schema: str, now: datetime, *,
                         stores: EventRequestStores = PgEventRequestStore) -> int:
    """Delete every contact due for deletion by ``now`` (expiring the requests nobody confirmed
    in time), a batch per transaction; returns how many events were published."""
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due, records = await purge(stores(conn), now)
            await outbox.add(conn, schema, records)
        total += len(records)
        if records:
            log.info("event request contacts purged", count=len(records))
        if due < BATCH:
            return total


async def prune_limits(pool: Pool, limits: SharedLimits) -> tuple[int, int]:
    """Delete the idle rate-limit buckets and past days' confirmation counts."""
    async with pool.acquire() as conn:
        return await limits.prune(conn)


def timer_loop(clock: Clock, config: EventConfig, interval: float,
               limits: SharedLimits | None = None, *,
               stores: EventRequestStores = PgEventRequestStore) -> BackgroundLoop:
    """The background worker (register with :meth:`Service.background`): a failed pass is tried
    again at the next tick."""

    async def step(service: Service) -> bool:
        now = clock.now()
        await fire_reminders(service.pool, service.name, now, config, stores=stores)
        await purge_contacts(service.pool, service.name, now, stores=stores)
        if limits is not None:
            await prune_limits(service.pool, limits)
        return False

    return worker("intake-event-request-timers", step, interval=interval,
                  failure=FailurePolicy(base=interval, cap=interval))
