"""The PostgreSQL convening store keeps the store contract (the same suite runs on the in-memory
fake in ``tests/unit/test_convening_store_fake.py``).

A scratch schema with convening's migrations, dropped afterwards; each test runs in a
transaction rolled back at its end, so every test starts from empty tables.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.convening.main import MIGRATIONS
from services.convening.ports import ConveningStore
from services.convening.store import PgConveningStore
from services.runtime import db
from services.runtime.db import Pool
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.settings import Settings
from tests.support.contracts.convening_store import ConveningStoreContract

pytestmark = pytest.mark.integration

SCHEMA = f"test_convening_store_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    found = await db.create_pool(settings, SCHEMA)
    try:
        await db.migrate(found, SCHEMA, {"runtime": RUNTIME_MIGRATIONS, "convening": MIGRATIONS})
        yield found
    finally:
        async with found.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
        await found.close()


@pytest.fixture
async def store(pool: Pool) -> AsyncIterator[ConveningStore]:
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            yield PgConveningStore(conn)
        finally:
            await transaction.rollback()


class TestPgConveningStore(ConveningStoreContract):
    """The contract, on PostgreSQL."""
