"""Two instances of each service under steady traffic; one of each is stopped (SIGTERM) mid-run.

The stopped instances leave their consumer groups, Kafka moves their partitions to the other
instances (a rebalance), and the outbox relay, timers and deliveries they led are taken over
through the PostgreSQL locks. Nothing is lost, nothing is repeated, processing goes on.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from services.runtime.settings import Settings
from tests.reliability.checks import Counts, Traffic, check_pipeline, resumed_after, snapshot
from tests.reliability.conftest import SERVICES, running_services

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(240)]
RECOVERY_BOUND = 30.0


async def test_one_of_two_instances_stopped_mid_run(
        settings: Settings, tmp_path: Path, report: Callable[[Counts], None]) -> None:
    names = (*SERVICES, *(f"{s}#2" for s in SERVICES))
    with running_services(settings, tmp_path / "logs", names) as services:
        since = await snapshot(settings)
        traffic = Traffic(settings, uuid.uuid4().hex[:8]).start()
        await asyncio.sleep(6)
        victims = [services.procs[name] for name in SERVICES]
        codes = await asyncio.gather(*(asyncio.to_thread(v.terminate) for v in victims))
        stopped = time.monotonic()
        assert codes == [0, 0, 0], f"an instance did not stop cleanly: {codes}"
        recovery = await resumed_after(settings, stopped, timeout=60)
        await asyncio.sleep(6)
        await traffic.finish()
        alive = {n: a for n, a in services.alive().items() if n.endswith("#2")}
        assert all(alive.values()), f"a remaining instance died: {alive}"
        counts = await check_pipeline(
            settings, since, traffic, scenario="two instances, one of each stopped",
            logs=services.logs(), recovery_s=recovery)
        left = services.stop_all()
    report(counts)
    assert left == dict.fromkeys(left, 0), f"instances did not stop cleanly: {left}"
    assert recovery < RECOVERY_BOUND, f"processing resumed only after {recovery:.1f}s"
