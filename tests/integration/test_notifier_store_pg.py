"""The notifier store contract on PostgreSQL: :class:`PgNotifierStore` in a scratch schema with
notifier's migrations (no delivery loop competes). ``store`` runs in a transaction rolled back
after each test; ``transactions`` commit, and the tables are emptied after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from services.notifier.main import MIGRATIONS
from services.notifier.ports import NotifierStore
from services.notifier.store import PgNotifierStore
from services.runtime.db import Pool
from services.runtime.settings import Settings
from tests.support.contracts.notifier_store import NotifierStoreContract, Transactions
from tests.support.scratch import rolled_back, scratch_schema

pytestmark = pytest.mark.integration

TABLES = ("notices, meetings, situations, command_actors, pending_refusals, "
          "event_request_contacts, event_request_purged, event_request_waiting")


@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    async with scratch_schema(settings, "notifier", MIGRATIONS) as found:
        yield found


@pytest.fixture
async def store(pool: Pool) -> AsyncIterator[NotifierStore]:
    async with rolled_back(pool) as conn:
        yield PgNotifierStore(conn)


@pytest.fixture
async def transactions(pool: Pool) -> AsyncIterator[Transactions]:
    @asynccontextmanager
    async def open_one() -> AsyncIterator[NotifierStore]:
        async with pool.acquire() as conn, conn.transaction():
            yield PgNotifierStore(conn)

    try:
        yield open_one
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"TRUNCATE {TABLES}")


class TestPgNotifierStore(NotifierStoreContract):
    """Every contract test, on :class:`PgNotifierStore`."""
