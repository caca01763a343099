"""intake's store contract on PostgreSQL: a scratch schema with intake's migrations, each test
in a transaction that is rolled back (so each starts empty, and no other test sees its rows)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.intake.main import MIGRATIONS
from services.intake.ports import IntakeStore
from services.intake.store import PgIntakeStore
from services.runtime.db import Pool
from services.runtime.settings import Settings
from tests.support.contracts.intake_store import IntakeStoreContract
from tests.support.scratch import rolled_back, scratch_schema

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    async with scratch_schema(settings, "intake", MIGRATIONS) as found:
        yield found


class TestPgIntakeStore(IntakeStoreContract):
    @pytest.fixture
    async def store(self, pool: Pool) -> AsyncIterator[IntakeStore]:
        async with rolled_back(pool) as conn:
            yield PgIntakeStore(conn)
