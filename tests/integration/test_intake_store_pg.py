"""intake's store contract on PostgreSQL: a scratch schema with intake's migrations, each test
in a transaction that is rolled back (so each starts empty, and no other test sees its rows)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.intake.main import MIGRATIONS
from services.intake.ports import IntakeStore
from services.intake.store import PgIntakeStore
from services.runtime import db
from services.runtime.db import Pool
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.settings import Settings
from tests.support.contracts.intake_store import IntakeStoreContract

pytestmark = pytest.mark.integration

SCHEMA = f"test_intake_store_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    found = await db.create_pool(settings, SCHEMA, min_size=1, max_size=2)
    try:
        await db.migrate(found, SCHEMA, {"runtime": RUNTIME_MIGRATIONS, "intake": MIGRATIONS})
        yield found
    finally:
        async with found.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
        await found.close()


class TestPgIntakeStore(IntakeStoreContract):
    @pytest.fixture
    async def store(self, pool: Pool) -> AsyncIterator[IntakeStore]:
        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                yield PgIntakeStore(conn)
            finally:
                await transaction.rollback()
