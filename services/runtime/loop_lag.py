"""How long a service's event loop is held: everything a service does (its consumers, the urgent
lanes' among them, relays, timers, HTTP) shares one loop, so a long stretch of work without an
``await`` (a batch of 500 decoded and placed) delays everything else, the urgent lane included.

:func:`loop_lag_probe` sleeps :data:`PROBE_EVERY` seconds again and again and records how much
later than asked it woke (``commande_event_loop_lag_seconds``, per service): near zero on an idle
loop, and the length of the stretch that held it otherwise.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from services.runtime.metrics import METRICS
from services.runtime.pause import pause

if TYPE_CHECKING:
    from services.runtime.service import Service

PROBE_EVERY = 0.1
"""Seconds the probe sleeps between two observations."""


async def loop_lag_probe(svc: Service, stopping: asyncio.Event) -> None:
    """Observe the event loop's lateness until the service stops."""
    loop = asyncio.get_running_loop()
    observe = METRICS.loop_lag.labels(svc.name).observe
    while True:
        began = loop.time()
        if await pause(PROBE_EVERY, stopping):
            return
        observe(max(0.0, loop.time() - began - PROBE_EVERY))
