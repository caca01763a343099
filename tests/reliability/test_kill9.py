"""kill -9 of a service at random moments under steady traffic, then a restart, several times
(each service at least once): every accepted referral has exactly one situation, every
situation is scheduled, every notice due is delivered (a repeat only for an e-mail sent just
before the notifier was killed, with the same Message-ID), no event is published twice under
different ids, and after each restart processing resumes within 30 s."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from services.runtime.settings import Settings
from tests.reliability.checks import (
    Counts,
    Traffic,
    check_pipeline,
    resumed_after,
    snapshot,
    tally,
)
from tests.reliability.conftest import SERVICES, running_services

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]
RECOVERY_BOUND = 30.0


async def test_kill_9_at_random_moments_loses_nothing_and_duplicates_nothing(
        settings: Settings, tmp_path: Path, report: Callable[[Counts], None]) -> None:
    run = uuid.uuid4().hex[:8]
    rng = random.Random(run)
    victims = [*rng.sample(SERVICES, len(SERVICES)), rng.choice(SERVICES)]
    with running_services(settings, tmp_path / "logs") as services:
        since = await snapshot(settings)
        traffic = Traffic(settings, run).start()
        recovered: list[float] = []
        windows: list[tuple[float, float]] = []
        for victim in victims:
            await asyncio.sleep(rng.uniform(0.5, 2.5))
            killed_at = time.time()
            services.procs[victim].kill()
            if victim == "notifier":  # only the notifier sends e-mails
                windows.append((killed_at, killed_at))
            restarted = time.monotonic()  # healed from here: the restart includes the rebalance
            await asyncio.to_thread(services.start, victim)
            recovered.append(await resumed_after(settings, restarted, timeout=60))
        await traffic.finish()
        assert all(services.alive().values()), f"a service died: {services.alive()}"
        counts = await check_pipeline(
            settings, since, traffic, scenario="kill -9 at random moments", logs=services.logs(),
            crash_windows=windows, recovery_s=max(recovered),
            notes=f"killed {tally(victims)}")
    report(counts)
    slow = [f"{v} {s:.1f}s" for v, s in zip(victims, recovered, strict=True) if s >= RECOVERY_BOUND]
    assert not slow, f"processing resumed only after {slow}"
