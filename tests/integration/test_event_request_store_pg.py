"""The event-request store's contract on PostgreSQL: intake's migrations in a scratch schema
(dropped afterwards), each test in a transaction rolled back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.intake.event_requests.ports import EventRequestStore
from services.intake.event_requests.store import PgEventRequestStore
from services.intake.main import MIGRATIONS
from services.runtime import db
from services.runtime.db import Pool
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.settings import Settings
from tests.support.contracts.event_request_store import EventRequestStoreContract

pytestmark = pytest.mark.integration

SCHEMA = f"test_event_request_store_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    found = await db.create_pool(settings, SCHEMA)
    try:
        await db.migrate(found, SCHEMA, {"runtime": RUNTIME_MIGRATIONS, "intake": MIGRATIONS})
        yield found
    finally:
        async with found.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
        await found.close()


class TestPgEventRequestStore(EventRequestStoreContract):
    @pytest.fixture
    async def store(self, pool: Pool) -> AsyncIterator[EventRequestStore]:
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                yield PgEventRequestStore(conn)
            finally:
                await tx.rollback()
