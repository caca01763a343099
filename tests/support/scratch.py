"""A service's schema of this test's own on the shared PostgreSQL: its migrations applied, dropped
afterwards; and a transaction rolled back at the end, so each test starts from empty tables."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from services.runtime import db
from services.runtime.db import Acquired, Pool
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.settings import Settings


@asynccontextmanager
async def scratch_schema(settings: Settings, service: str,
                         migrations: Path | None) -> AsyncIterator[Pool]:
    """A pool on a fresh schema ``test_<service>_<random>`` with the runtime's and ``service``'s
    migrations (``None``: the runtime's alone); the schema is dropped when the block ends."""
    schema = f"test_{service}_{uuid.uuid4().hex[:8]}"
    pool = await db.create_pool(settings, schema)
    try:
        folders = {"runtime": RUNTIME_MIGRATIONS}
        if migrations is not None:
            folders[service] = migrations
        await db.migrate(pool, schema, folders)
        yield pool
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await pool.close()


@asynccontextmanager
async def rolled_back(pool: Pool) -> AsyncIterator[Acquired]:
    """A connection in a transaction that is rolled back when the block ends."""
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            yield conn
        finally:
            await transaction.rollback()


def migrations_until(folder: Path, last: int, into: Path) -> Path:
    """A copy of the migrations ``folder`` numbered up to ``last``, in ``into``: a schema as an
    earlier release left it, for upgrade tests."""
    into.mkdir()
    for path in sorted(folder.glob("*.sql")):
        if int(path.name[:3]) <= last:
            shutil.copy(path, into / path.name)
    return into
