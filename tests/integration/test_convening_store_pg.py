"""The PostgreSQL convening store keeps the store contract (the same suite runs on the in-memory
fake in ``tests/unit/test_convening_store_fake.py``).

A scratch schema with convening's migrations, dropped afterwards; each test runs in a
transaction rolled back at its end, so every test starts from empty tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from uuid6 import uuid7

from services.convening.main import MIGRATIONS
from services.convening.ports import ConveningStore
from services.convening.store import PgConveningStore
from services.runtime.db import Pool
from services.runtime.settings import Settings
from tests.support.contracts.convening_store import ConveningStoreContract
from tests.support.scratch import rolled_back, scratch_schema

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    async with scratch_schema(settings, "convening", MIGRATIONS) as found:
        yield found


@pytest.fixture
async def store(pool: Pool) -> AsyncIterator[ConveningStore]:
    async with rolled_back(pool) as conn:
        yield PgConveningStore(conn)


class TestPgConveningStore(ConveningStoreContract):
    """The contract, on PostgreSQL."""


async def test_placement_waits_for_its_own_tables_only(pool: Pool) -> None:
    """A placement holding its tables' locks (a partner's backlog in 1 and 3 District) holds back
    a placement on one of them, not one on another table (an urgent situation in 2 District)."""
    async with pool.acquire() as backlog_conn, pool.acquire() as urgent_conn:
        backlog = backlog_conn.transaction()
        await backlog.start()
        await PgConveningStore(backlog_conn).lock_placement(["district_3", "district_1"])
        async with urgent_conn.transaction():
            await asyncio.wait_for(PgConveningStore(urgent_conn).lock_placement(["district_2"]), 3)
        async with urgent_conn.transaction():
            waiting = asyncio.create_task(
                PgConveningStore(urgent_conn).lock_placement(["district_2", "district_3"]))
            await asyncio.sleep(0.3)
            held = not waiting.done()
            await backlog.rollback()
            await asyncio.wait_for(waiting, 3)  # the backlog's transaction ended: granted
        assert held, "3 District's placement waits for the backlog's"


async def test_placement_arms_a_meeting_the_timer_loop_is_firing_without_a_deadlock(
        pool: Pool) -> None:
    """The loop holds the agenda timer's row and waits for the placement lock; placement holds
    that lock and arms the same timer. Waiting for the row there deadlocked (PostgreSQL aborted
    one side; three times in a row parked the timer and the meeting's updates never went out)."""
    meeting, now = uuid7(), datetime(2031, 5, 6, 9, 0, tzinfo=UTC)
    async with pool.acquire() as loop_conn, pool.acquire() as placement_conn:
        await PgConveningStore(loop_conn).arm_agenda_timer(meeting, now, now)
        try:
            async with loop_conn.transaction():
                loop = PgConveningStore(loop_conn)
                taken = await loop.timer_store.take_due(now, [])
                assert taken is not None
                assert taken.key == f"agenda/{meeting}"
                async with placement_conn.transaction():
                    placement = PgConveningStore(placement_conn)
                    await placement.lock_placement(["district_1"])
                    waiting = asyncio.create_task(loop.lock_placement(["district_1"]))
                    await asyncio.sleep(0.3)
                    assert not waiting.done(), "the loop waits for placement"
                    await asyncio.wait_for(placement.arm_agenda_timer(
                        meeting, now + timedelta(minutes=1), now), 3)
                await asyncio.wait_for(waiting, 3)  # placement committed: the loop goes on
        finally:
            await loop_conn.execute("DELETE FROM durable_timers WHERE aggregate_id = $1", meeting)
