"""The PostgreSQL timer store keeps the timer store contract (the same suite runs on the
in-memory fake in ``tests/unit/test_timer_store_fake.py``).

A scratch schema with the runtime's migrations, dropped afterwards; each test runs in a
transaction rolled back at its end, so every test starts from an empty table.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from uuid6 import uuid7

from services.runtime.db import Pool
from services.runtime.settings import Settings
from services.runtime.timers import PgTimerStore, TimerStore
from tests.support.contracts.timer_store import T0, TimerStoreContract, timer
from tests.support.scratch import rolled_back, scratch_schema

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    async with scratch_schema(settings, "timers", None) as found:
        yield found


@pytest.fixture
async def store(pool: Pool) -> AsyncIterator[TimerStore]:
    async with rolled_back(pool) as conn:
        yield PgTimerStore(conn)


class TestPgTimerStore(TimerStoreContract):
    """The contract, on PostgreSQL."""


async def test_a_timer_held_by_one_transaction_is_skipped_by_another(pool: Pool) -> None:
    aid = uuid7()
    async with pool.acquire() as first, pool.acquire() as second:
        await PgTimerStore(first).insert([timer(aid, T0, key=f"{aid}/a"),
                                          timer(aid, T0, key=f"{aid}/b")], T0)
        try:
            async with first.transaction(), second.transaction():
                held = await PgTimerStore(first).take_due(T0, [])
                other = await PgTimerStore(second).take_due(T0, [])
                assert (held, other) == (timer(aid, T0, key=f"{aid}/a"),
                                         timer(aid, T0, key=f"{aid}/b"))
                assert await PgTimerStore(second).take_due(T0, [f"{aid}/b"]) is None
        finally:
            await first.execute("DELETE FROM durable_timers WHERE aggregate_id = $1", aid)


async def test_a_timer_the_loop_is_firing_is_left_to_it_without_waiting(pool: Pool) -> None:
    """``arm(unless_firing=True)`` on a row another transaction holds writes nothing and does not
    wait for it (waiting is what deadlocked convening's placement with its agenda timer)."""
    aid = uuid7()
    due = timer(aid, T0)
    async with pool.acquire() as loop, pool.acquire() as placement:
        await PgTimerStore(loop).insert([due], T0)
        try:
            async with loop.transaction():
                assert await PgTimerStore(loop).take_due(T0, []) == due  # the row is held
                async with placement.transaction():
                    armed = await asyncio.wait_for(PgTimerStore(placement).arm(
                        timer(aid, T0 - timedelta(minutes=5)), T0, unless_firing=True), 2)
                    assert armed is False
                    assert await PgTimerStore(placement).pending(aid) == [due]  # unchanged
        finally:
            await loop.execute("DELETE FROM durable_timers WHERE aggregate_id = $1", aid)
