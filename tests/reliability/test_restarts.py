"""The Kafka broker, then PostgreSQL, restarted under steady traffic (on a private stack): each is
stopped cleanly once and crashed once, traffic keeps being offered while it is away, and after it
is back processing resumes within 30 s, nothing is lost, nothing is published twice under new
ids, every notice due is delivered."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.checks import Counts, Traffic, check_pipeline, resumed_after, snapshot
from tests.reliability.conftest import PrivateStack, running_services

pytestmark = [pytest.mark.reliability]
RECOVERY_BOUND = 30.0
DOWN_FOR = 6.0
"""How long the broker or the database stays away each time (traffic keeps coming)."""


async def _restart_twice(stack: PrivateStack, log_dir: Path, scenario: str,
                         faults: list[tuple[str, Callable[[], None], Callable[[], None]]],
                         report: Callable[[Counts], None], *, crash_window: bool) -> None:
    settings = stack.settings
    with running_services(settings, log_dir) as services:
        since = await snapshot(settings)
        traffic = Traffic(settings, uuid.uuid4().hex[:8]).start()
        await asyncio.sleep(4)
        recovered: dict[str, float] = {}
        windows: list[tuple[float, float]] = []
        for name, stop, start in faults:
            began = time.time()
            await asyncio.to_thread(stop)
            await asyncio.sleep(DOWN_FOR)
            await asyncio.to_thread(start)
            windows.append((began, time.time()))
            recovered[name] = await resumed_after(settings, time.monotonic(), timeout=60)
            await asyncio.sleep(3)
        await traffic.finish()
        assert all(services.alive().values()), f"a service died: {services.alive()}"
        counts = await check_pipeline(
            settings, since, traffic, scenario=scenario, logs=services.logs(),
            crash_windows=windows if crash_window else (), recovery_s=max(recovered.values()),
            notes=", ".join(f"{k} {v:.1f}s" for k, v in recovered.items())
            + f"; {traffic.publish_failures} publish retries")
        codes = services.stop_all()
    report(counts)
    assert codes == dict.fromkeys(codes, 0), f"services did not stop cleanly: {codes}"
    slow = {k: v for k, v in recovered.items() if v >= RECOVERY_BOUND}
    assert not slow, f"processing resumed only after {slow}"


@pytest.mark.timeout(240)
async def test_kafka_broker_restart_under_traffic(
        private_stack: PrivateStack, tmp_path: Path, report: Callable[[Counts], None]) -> None:
    faults = [
        ("broker SIGTERM", lambda: private_stack.stop_broker(kill=False), private_stack.start_broker),
        ("broker kill -9", lambda: private_stack.stop_broker(kill=True), private_stack.start_broker),
    ]
    await _restart_twice(private_stack, tmp_path / "logs", "kafka broker restart", faults, report,
                         crash_window=False)


@pytest.mark.timeout(240)
async def test_postgresql_restart_under_traffic(
        private_stack: PrivateStack, tmp_path: Path, report: Callable[[Counts], None]) -> None:
    faults = [
        ("postgres fast", lambda: private_stack.stop_database("fast"), private_stack.start_database),
        ("postgres immediate", lambda: private_stack.stop_database("immediate"),
         private_stack.start_database),
    ]
    # An e-mail sent just before the database went away, whose delivery was not yet committed,
    # is sent again (same Message-ID): a database outage is a crash window for deliveries. A broker
    # outage is not (deliveries do not touch Kafka), so there no e-mail may repeat.
    await _restart_twice(private_stack, tmp_path / "logs", "postgresql restart", faults, report,
                         crash_window=True)
