"""intake's store contract on PostgreSQL: a scratch schema with intake's migrations, each test
in a transaction that is rolled back (so each starts empty, and no other test sees its rows)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from uuid6 import uuid7

from services.intake import store as store_sql
from services.intake.main import MIGRATIONS
from services.intake.ports import IntakeStore
from services.intake.store import PgIntakeStore
from services.runtime.db import Pool
from services.runtime.settings import Settings
from tests.support.contracts.intake_store import T0, IntakeStoreContract, opened
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


async def test_a_situation_held_by_another_transaction_is_not_waited_for_by_its_timers(
        pool: Pool) -> None:
    situation, answer = opened(f"nowait-{uuid7()}")
    sid = situation.situation_id
    async with pool.acquire() as conn, conn.transaction():
        await PgIntakeStore(conn).save_many([situation], [answer])
    try:
        async with rolled_back(pool) as holder:
            await PgIntakeStore(holder).touch([(sid, T0)])  # a handler holds the situation
            async with rolled_back(pool) as other:
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await PgIntakeStore(other).retention_state(sid)
        async with rolled_back(pool) as conn:
            state = await PgIntakeStore(conn).retention_state(sid)
            assert state is not None
            assert (state.status, state.last_activity_at) == ("open", T0)
    finally:
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM vault WHERE situation_id = $1", sid)
            await conn.execute("DELETE FROM situations WHERE situation_id = $1", sid)
            await conn.execute("DELETE FROM referrals WHERE situation_id = $1", sid)


@pytest.mark.parametrize(("statement", "arity"), [
    ("DELETE_VAULT", 1), ("MARK_PURGED", 3), ("FORGET_FINGERPRINT", 1), ("RETENTION_STATE", 1)])
async def test_a_purge_finds_its_rows_by_an_index_not_by_reading_every_referral(
        pool: Pool, statement: str, arity: int) -> None:
    """Each purge (one per situation, one transaction each) reads its rows by an index: a
    sequential scan reads every referral ever answered, so purging grows with the history."""
    sample = (uuid7(), T0, "inactive")[:arity]
    async with rolled_back(pool) as conn:
        await conn.execute("SET LOCAL enable_seqscan = off")  # the plan an index allows at scale
        plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {getattr(store_sql, statement)}",
                                   *sample)
    nodes = json.dumps(plan)
    assert "Seq Scan" not in nodes, f"{statement} reads its table sequentially: {nodes[:400]}"
