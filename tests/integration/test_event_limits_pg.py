"""The event-request limits' contract on PostgreSQL: intake's migrations in a scratch schema
(dropped afterwards); the limits' time is PostgreSQL's ``now()``, so time passes by sleeping, and
each statement runs on its own (no transaction: a transaction's ``now()`` stands still). The
tables are emptied after each test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from services.intake.event_requests.ports import EventLimits
from services.intake.event_requests.rate_limit import LimitConfig, SharedLimits
from services.intake.main import MIGRATIONS
from services.intake.vault import Vault
from services.runtime.db import Acquired, Pool
from services.runtime.settings import Settings
from tests.support.contracts.event_limits import EventLimitsContract, LimitTime, MakeLimits
from tests.support.scratch import scratch_schema

pytestmark = pytest.mark.integration

EMPTY = ("DELETE FROM event_rate_buckets", "DELETE FROM event_confirmation_counts")
YESTERDAY = "UPDATE event_confirmation_counts SET day = day - 1"
"""What a day passing does to the counts kept so far (their ``day`` is yesterday's)."""


@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    async with scratch_schema(settings, "intake", MIGRATIONS) as found:
        yield found


class PgTime:
    """PostgreSQL's time: the real time."""

    def __init__(self, conn: Acquired) -> None:
        self._conn = conn

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def elapse(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def a_day_passes(self) -> None:
        await self._conn.execute(YESTERDAY)


class TestPgEventLimits(EventLimitsContract):
    @pytest.fixture
    async def conn(self, pool: Pool) -> AsyncIterator[Acquired]:
        async with pool.acquire() as conn:
            try:
                yield conn
            finally:
                for statement in EMPTY:
                    await conn.execute(statement)

    @pytest.fixture
    def make(self, conn: Acquired) -> MakeLimits:
        def made(config: LimitConfig) -> EventLimits:
            return SharedLimits(config, Vault.development().fingerprint).bound(conn)
        return made

    @pytest.fixture
    def time(self, conn: Acquired) -> LimitTime:
        return PgTime(conn)
