"""The event-request store's contract on PostgreSQL: intake's migrations in a scratch schema
(dropped afterwards), each test in a transaction rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.intake.event_requests.ports import EventRequestStore
from services.intake.event_requests.store import PgEventRequestStore
from services.intake.main import MIGRATIONS
from services.runtime.db import Pool
from services.runtime.settings import Settings
from tests.support.contracts.event_request_store import EventRequestStoreContract, acknowledged
from tests.support.scratch import rolled_back, scratch_schema

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    async with scratch_schema(settings, "intake", MIGRATIONS) as found:
        yield found


class TestPgEventRequestStore(EventRequestStoreContract):
    @pytest.fixture
    async def store(self, pool: Pool) -> AsyncIterator[EventRequestStore]:
        async with rolled_back(pool) as conn:
            yield PgEventRequestStore(conn)


async def test_a_request_held_by_another_transaction_is_not_waited_for_with_nowait(
        pool: Pool) -> None:
    state = acknowledged()
    async with pool.acquire() as conn, conn.transaction():
        await PgEventRequestStore(conn).save_request(state)
    try:
        async with rolled_back(pool) as holder:
            assert await PgEventRequestStore(holder).get_request(state.request_id) == state
            async with rolled_back(pool) as other:
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await PgEventRequestStore(other).get_request(state.request_id, nowait=True)
        async with rolled_back(pool) as conn:
            assert await PgEventRequestStore(conn).get_request(state.request_id,
                                                               nowait=True) == state
    finally:
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM event_requests WHERE request_id = $1",
                               state.request_id)
