"""Long stretches of work hand the event loop back now and then.

Everything a service does shares one event loop: its consumers (an urgent lane's among them),
the outbox relay's passes, timers, HTTP. A consumer's batch of 500 records does milliseconds of
CPU work per record (decoding, checking a signature, deciding, encoding) with no ``await`` in
between, so while it runs nothing else can: measured during a 15,000-referral backfill, intake's
loop was held for up to 2.5 s at a time (``commande_event_loop_lag_seconds``), and each step of an
urgent referral waited for it. A loop over a batch's records goes through :func:`cooperatively`,
which lets whatever else is ready run whenever :data:`SLICE` seconds have passed since it last did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

SLICE = 0.005
"""Seconds of work between two hand-backs: the most a batch holds the loop per step of another
task, for a cost of one event-loop round (microseconds) per slice."""

T = TypeVar("T")


async def cooperatively(items: Iterable[T]) -> AsyncIterator[T]:
    """``items``, handing the event loop back after each :data:`SLICE` of work on them."""
    last = time.perf_counter()
    for item in items:
        yield item
        if time.perf_counter() - last >= SLICE:
            await asyncio.sleep(0)
            last = time.perf_counter()
