"""intake's one timer worker (the runtime's, :mod:`services.runtime.timers`) over the timers of
its schema: each kind to its fire (:func:`services.runtime.timers.route`): a situation's
retention and inactivity (:mod:`services.intake.purging`), an event request's reminder, purge
and expiry (:mod:`services.intake.event_requests.timers`)."""

from __future__ import annotations

from collections.abc import Callable

from services.intake import purging
from services.intake.event_requests import timers as event_timers
from services.intake.event_requests.decide import EventConfig
from services.intake.event_requests.ports import EventRequestStores
from services.intake.event_requests.store import PgEventRequestStore
from services.intake.handlers import SOURCE
from services.intake.ports import IntakeStore
from services.intake.store import PgIntakeStore
from services.runtime import timers as runtime
from services.runtime.clock import Clock
from services.runtime.db import Connection, Pool
from services.runtime.service import BackgroundLoop

WORKER = "intake-timers"


def firing(*, inactive_days: int, event_config: EventConfig,
           stores: Callable[[Connection], IntakeStore] = PgIntakeStore,
           event_stores: EventRequestStores = PgEventRequestStore) -> runtime.Fire:
    """What any due timer of intake's schema does, by its kind."""
    return runtime.route({**purging.fires(inactive_days, stores),
                          **event_timers.fires(event_config, event_stores)})


def timer_worker(fire: runtime.Fire, clock: Clock, interval: float) -> BackgroundLoop:
    """The runtime's timer worker with ``fire``, every ``interval`` seconds; after the ``n``-th
    failure of a whole look in a row it waits ``interval * min(2^n, 30)``."""
    return runtime.timer_worker(WORKER, fire, source=SOURCE, clock=clock, interval=interval)


async def fire_due(pool: Pool, schema: str, fire: runtime.Fire, clock: Clock, *,
                   timer_stores: runtime.TimerStores = runtime.PgTimerStore) -> int:
    """Fire every timer due now (one look of the worker); returns how many emitted events."""
    return await runtime.fire_due(pool, schema, fire, source=SOURCE, clock=clock,
                                  stores=timer_stores, worker=WORKER)
