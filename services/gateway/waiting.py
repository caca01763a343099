"""Waiting for a command's outcome: the read model records what a command caused and NOTIFYs
its id; a request waiting on that id wakes and asks :func:`~services.gateway.outcomes.settle`.

One LISTEN connection per gateway process (its own, outside the pool). Every instance sharing
the schema sees every outcome, whichever instance's consumer recorded it. A lost notification
(the listener reconnecting) costs at most a short poll interval, never an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from uuid import UUID

from services.gateway import store
from services.gateway.outcomes import Outcome, settle
from services.runtime import db
from services.runtime.db import DB_UNAVAILABLE, Pool
from services.runtime.failure import RECONNECT
from services.runtime.logging import get_logger
from services.runtime.service import Service

POLL = 0.5
"""Seconds between looks when no notification comes (a safety net, not the path)."""
log = get_logger("commande.gateway.waiting")


class Waiters:
    """Requests waiting for outcomes, woken by the outcomes channel."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Event] = {}
        self.listening = False

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        event = self._waiting.get(str(payload))
        if event is not None:
            event.set()

    async def listen(self, service: Service, stopping: asyncio.Event) -> None:
        """A background loop: keep one LISTEN connection while the service runs."""
        failures = 0
        while not stopping.is_set():
            pool: Pool | None = None
            try:
                pool = await db.create_pool(service.settings, service.name, min_size=1, max_size=1)
                async with pool.acquire() as conn:
                    await conn.add_listener(store.OUTCOMES_CHANNEL, self._notified)
                    self.listening = True
                    failures = 0
                    while not stopping.is_set() and not conn.is_closed():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stopping.wait(), 5.0)
            except Exception as exc:  # reconnect whatever happened: waiters fall back to polling
                failures += 1
                log.warning("outcome listener reconnecting", error=type(exc).__name__,
                            attempt=failures)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), RECONNECT.backoff(failures))
            finally:
                self.listening = False
                if pool is not None:
                    with contextlib.suppress(*DB_UNAVAILABLE, Exception):
                        await pool.close()

    async def wait(self, pool: Pool, command_id: UUID, command_type: str,
                   within: float) -> Outcome | None:
        """The command's outcome, or ``None`` if it is not settled within ``within`` seconds."""
        key = str(command_id)
        event = self._waiting.setdefault(key, asyncio.Event())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        try:
            while True:
                event.clear()
                async with pool.acquire() as conn:
                    outcome = settle(command_type, await store.outcomes(conn, command_id))
                if outcome is not None:
                    return outcome
                left = deadline - loop.time()
                if left <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(left, POLL))
        finally:
            self._waiting.pop(key, None)
