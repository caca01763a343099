"""The event loop's probe records how long other work held the loop."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import cast

from prometheus_client import REGISTRY

from services.runtime.loop_lag import loop_lag_probe
from services.runtime.service import Service

METRIC = "commande_event_loop_lag_seconds"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"{METRIC}_{name}", {"service": "probe-test", **labels}) or 0.0


async def test_a_loop_held_for_300_ms_is_observed_late_and_an_idle_one_is_not() -> None:
    stopping = asyncio.Event()
    before = sample("count"), sample("bucket", le="0.1"), sample("sum")
    probe = asyncio.create_task(
        loop_lag_probe(cast(Service, SimpleNamespace(name="probe-test")), stopping))
    await asyncio.sleep(0.35)  # idle: the probe wakes on time
    idle = sample("count") - before[0], sample("bucket", le="0.1") - before[1]
    time.sleep(0.3)  # noqa: ASYNC251 - the point: work without an await holds the loop
    await asyncio.sleep(0.15)
    stopping.set()
    await asyncio.wait_for(probe, 1)
    held = sample("count") - before[0], sample("bucket", le="0.1") - before[1]

    assert idle[0] >= 2
    assert idle[1] >= 1, "on time while the loop is free"
    assert held[0] - held[1] > idle[0] - idle[1], "the held probe woke over 100 ms late"
    assert sample("sum") - before[2] >= 0.2, "the 300 ms, less the probe's own 100 ms sleep"
