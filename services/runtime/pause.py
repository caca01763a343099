"""Waiting that an event cuts short: the runtime's loops and retries sleep only through this.

A loop waits for its interval, its backoff or a lock it could not take, and must stop at once
when the service stops (or start its next round at once on a ``NOTIFY``).
"""

from __future__ import annotations

import asyncio


async def pause(seconds: float, *events: asyncio.Event) -> bool:
    """Wait until ``seconds`` have passed or one of ``events`` is set; whether an event ended it."""
    if any(event.is_set() for event in events):
        return True
    if not events:
        await asyncio.sleep(seconds)
        return False
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)
