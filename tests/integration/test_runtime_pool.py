"""The services' connection pool on the real PostgreSQL: a released connection goes back as it was
left, without asyncpg's reset round trip, and what our code does leaves no session state behind
(the next holder of the connection gets no lock, no ``LISTEN`` and the pool's settings)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from services.runtime import db
from services.runtime.settings import Settings
from services.runtime.worker import run

pytestmark = pytest.mark.integration


async def _last_query(admin: asyncpg.Pool, app: str) -> str:
    query: str = await admin.fetchval(
        "SELECT query FROM pg_stat_activity WHERE application_name = $1", app)
    return query


async def test_a_released_connection_is_not_reset_and_nothing_we_do_leaves_session_state(
        settings: Settings, admin_db: asyncpg.Pool) -> None:
    schema = f"pool_{uuid.uuid4().hex[:12]}"
    pool = await db.create_pool(settings, schema, min_size=1, max_size=1)
    try:
        await db.migrate(pool, schema, {})  # takes and gives back a session-level lock
        stopping = asyncio.Event()

        async def step() -> bool:
            stopping.set()
            return False

        # a worker LISTENs on a pooled connection, then gives it back when it stops
        await asyncio.wait_for(run("test", pool, stopping, step, interval=3600,
                                   channel=f"{schema}_wake"), 5)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", schema)

        last = await _last_query(admin_db, f"commande-{schema}")
        assert last.startswith("COMMIT"), f"the release ran {last!r} after the transaction"
        async with pool.acquire() as conn:  # the one connection, as the next holder finds it
            assert await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'"
            ) == 0
            assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
            assert await conn.fetchval("SELECT current_setting('search_path')") == schema
    finally:
        await pool.close()
        await admin_db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
