"""The worker primitive: runs again at once while work waits, backs off after failures (a bug
included: it never stops for good), sleeps its interval otherwise, and stops with the service.
Its LISTEN wake-up is exercised by the services' integration tests (notifier's delivery)."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from schemas.errors import TransientError
from services.runtime.db import Pool
from services.runtime.failure import FailurePolicy
from services.runtime.worker import run

pytestmark = pytest.mark.unit

NO_POOL = cast(Pool, object())  # without a channel the worker never touches its pool
QUICK = FailurePolicy(base=0.01, cap=0.02)


async def test_a_step_with_more_waiting_runs_again_at_once_then_the_worker_sleeps() -> None:
    stopping = asyncio.Event()
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def step() -> bool:
        calls.append(loop.time())
        if len(calls) == 4:
            stopping.set()
        return len(calls) < 3  # two full batches, then one that empties the queue

    started = loop.time()
    await asyncio.wait_for(run("t", NO_POOL, stopping, step, interval=0.3, failure=QUICK), 5)
    assert len(calls) == 4
    assert calls[2] - started < 0.2  # no sleep between the first three
    assert calls[3] - calls[2] >= 0.29  # then the interval


async def test_failures_back_off_and_a_bug_does_not_stop_the_worker() -> None:
    stopping = asyncio.Event()
    outcomes: list[BaseException | None] = [TransientError("db away"), KeyError("bug"),
                                            TransientError("db away"), None]
    seen: list[str] = []

    async def step() -> bool:
        outcome = outcomes.pop(0)
        seen.append(type(outcome).__name__)
        if outcome is not None:
            raise outcome
        stopping.set()
        return False

    await asyncio.wait_for(run("t", NO_POOL, stopping, step, interval=60, failure=QUICK), 5)
    assert seen == ["TransientError", "KeyError", "TransientError", "NoneType"]


async def test_stopping_ends_a_long_sleep_at_once() -> None:
    stopping = asyncio.Event()
    ran = asyncio.Event()

    async def step() -> bool:
        ran.set()
        return False

    task = asyncio.create_task(run("t", NO_POOL, stopping, step, interval=3600, failure=QUICK))
    await asyncio.wait_for(ran.wait(), 5)
    stopping.set()
    await asyncio.wait_for(task, 1)
