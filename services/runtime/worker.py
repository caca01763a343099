"""The one background-worker primitive: a step run every ``interval``, woken early by a
PostgreSQL ``LISTEN`` channel, backed off after failures, stopped with the service.

Every loop of a service is one :func:`worker`: the outbox relay and its housekeeping
(:mod:`services.runtime.outbox`, which every service runs), the durable-timer loop of
:mod:`services.runtime.timers`, notifier's delivery, intake's retention and event-request timers:
a ``step`` that does what is due now and says whether more is already waiting (then it runs
again at once, without sleeping). Between steps the worker waits ``interval`` seconds, or less
when a ``NOTIFY`` arrives on ``channel`` (a lost notification only delays the work to the next
tick), or until the service stops.

A step that fails is not the end of the worker: a dependency away (PostgreSQL, Kafka) is logged
as a wait, anything else (a bug) as an error, and after the ``n``-th failure in a row the worker
sleeps ``failure.backoff(n)`` before trying again. Each step owns its transactions, so a failed
one left nothing half done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from schemas.errors import TransientError
from services.runtime.db import DB_UNAVAILABLE, Acquired, Pool
from services.runtime.failure import RECONNECT, FailurePolicy
from services.runtime.logging import get_logger
from services.runtime.pause import pause

if TYPE_CHECKING:  # the service imports the workers it runs itself (the outbox relay)
    from services.runtime.service import BackgroundLoop, Service

Step = Callable[[], Awaitable[bool]]
"""Do what is due; ``True`` when more is already waiting (run again without sleeping)."""

log = get_logger("commande.worker")


def worker(name: str, step: Callable[[Service], Awaitable[bool]], *, interval: float,
           channel: str | None = None, failure: FailurePolicy = RECONNECT) -> BackgroundLoop:
    """A background loop (for :meth:`Service.background`) running ``step(service)``."""

    async def loop(svc: Service, stopping: asyncio.Event) -> None:
        await run(name, svc.pool, stopping, lambda: step(svc), interval=interval,
                  channel=channel, failure=failure)

    return loop


async def run(name: str, pool: Pool, stopping: asyncio.Event, step: Step, *, interval: float,
              channel: str | None = None, failure: FailurePolicy = RECONNECT) -> None:
    """Run ``step`` until ``stopping`` is set (see the module's description)."""
    wake = asyncio.Event()

    def wake_up(*_: object) -> None:
        wake.set()

    listener: Acquired | None = None
    failures = 0
    try:
        while not stopping.is_set():
            try:
                if channel is not None and (listener is None or listener.is_closed()):
                    listener = await pool.acquire()
                    await listener.add_listener(channel, wake_up)
                wake.clear()
                more = await step()
                failures = 0
                if more:
                    continue
            except Exception as exc:
                failures += 1
                if isinstance(exc, (TransientError, *DB_UNAVAILABLE)):
                    log.warning("worker waiting for its dependencies", worker=name,
                                error=type(exc).__name__, attempt=failures)
                    await _release(pool, listener, channel, wake_up)
                    listener = None
                else:  # a bug must not stop the worker for good: log it, try again later
                    log.exception("worker step failed; retrying", worker=name,
                                  error=type(exc).__name__, attempt=failures)
                await pause(failure.backoff(failures), stopping)
                continue
            await pause(interval, stopping, wake)  # wake is set only by a NOTIFY on channel
    finally:
        await _release(pool, listener, channel, wake_up)


async def _release(pool: Pool, conn: Acquired | None, channel: str | None,
                   callback: Callable[..., None]) -> None:
    """Stop listening and give the connection back."""
    if conn is None or channel is None:
        return
    with contextlib.suppress(Exception):
        await conn.remove_listener(channel, callback)
    with contextlib.suppress(Exception):
        await pool.release(conn, timeout=5)
