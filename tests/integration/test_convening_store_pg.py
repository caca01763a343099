"""The PostgreSQL convening store keeps the store contract (the same suite runs on the in-memory
fake in ``tests/unit/test_convening_store_fake.py``).

A scratch schema with convening's migrations, dropped afterwards; each test runs in a
transaction rolled back at its end, so every test starts from empty tables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

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
