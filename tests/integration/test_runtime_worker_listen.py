"""The worker primitive on the real PostgreSQL: a NOTIFY on its channel wakes it long before its
interval, and it stops with the service, giving its LISTEN connection back."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from services.runtime.db import Pool
from services.runtime.worker import run

pytestmark = pytest.mark.integration


async def test_a_notify_wakes_the_worker_before_its_interval(admin_db: asyncpg.Pool) -> None:
    channel = f"worker_test_{uuid.uuid4().hex[:12]}"
    stopping = asyncio.Event()
    steps = 0
    woken = asyncio.Event()

    async def step() -> bool:
        nonlocal steps
        steps += 1
        if steps == 2:
            woken.set()
        return False

    pool: Pool = admin_db
    task = asyncio.create_task(run("test", pool, stopping, step, interval=3600, channel=channel))
    try:
        for _ in range(100):  # the first step ran and the worker is listening
            if steps == 1 and await admin_db.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1",
                    f"LISTEN %{channel}%"):
                break
            await asyncio.sleep(0.05)
        await admin_db.execute("SELECT pg_notify($1, '')", channel)
        await asyncio.wait_for(woken.wait(), 5)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)
    assert steps == 2
