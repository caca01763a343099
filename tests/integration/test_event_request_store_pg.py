"""The event-request store's contract on PostgreSQL: intake's migrations in a scratch schema
(dropped afterwards), each test in a transaction rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.intake.event_requests.ports import EventRequestStore
from services.intake.event_requests.store import PgEventRequestStore
from services.intake.main import MIGRATIONS
from services.runtime.db import Pool
from services.runtime.settings import Settings
from tests.support.contracts.event_request_store import EventRequestStoreContract
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
