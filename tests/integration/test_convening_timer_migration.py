"""convening's timers survive their move to the runtime's ``durable_timers``: a schema migrated
as the last release left it (runtime 001-002, convening 001-005, timers in ``convening.timers``)
is migrated on (runtime 003, convening 006); every row is there, in its state, and the pending
ones are taken and read back as convening's timers, as before."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from uuid6 import uuid7

from services.convening.main import MIGRATIONS
from services.convening.store import PgConveningStore
from services.convening.timers import Timer, agenda_timer, from_row
from services.runtime import db
from services.runtime.db import Pool
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.settings import Settings
from tests.support.scratch import migrations_until, rolled_back

pytestmark = pytest.mark.integration

T0 = datetime(2031, 3, 4, 15, 0, 0, 123456, tzinfo=UTC)
LEGACY = """
INSERT INTO timers (timer_key, kind, aggregate_id, due_at, started_at, window_due_at, agency_id,
                    state, failures, last_error, created_at, settled_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
"""



@pytest.fixture
async def schema(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[Pool, str]]:
    name = f"test_timer_move_{uuid.uuid4().hex[:8]}"
    pool = await db.create_pool(settings, name)
    try:
        await db.migrate(pool, name, {
            "runtime": migrations_until(RUNTIME_MIGRATIONS, 2, tmp_path / "runtime"),
            "convening": migrations_until(MIGRATIONS, 5, tmp_path / "convening")})
        yield pool, name
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {name} CASCADE")
        await pool.close()


async def test_the_last_releases_timers_keep_firing_from_the_runtimes_table(
        schema: tuple[Pool, str]) -> None:
    pool, name = schema
    sid, mid = uuid7(), uuid7()
    warning = Timer(f"sla_warning/{sid}/{T0.isoformat()}", "sla_warning", sid,
                    T0 + timedelta(hours=24), T0, T0 + timedelta(hours=48))
    lead = Timer(f"lead_acceptance/{sid}/{T0.isoformat()}/mh", "lead_acceptance", sid,
                 T0 + timedelta(hours=12), T0, T0 + timedelta(hours=12), "mental-health-assoc")
    agenda = agenda_timer(mid, T0 + timedelta(hours=30))
    breach = Timer(f"sla_breach/{sid}/{T0.isoformat()}", "sla_breach", sid,
                   T0 + timedelta(hours=48), T0, T0 + timedelta(hours=48))
    async with pool.acquire() as conn:
        for t, state, failures, error, settled in (
                (warning, "pending", 1, "ValueError", None), (lead, "pending", 0, None, None),
                (agenda, "pending", 0, None, None), (breach, "parked", 3, "KeyError", T0)):
            await conn.execute(LEGACY, t.key, t.kind, t.aggregate_id, t.due_at, t.started_at,
                               t.window_due_at, t.agency_id, state, failures, error, T0, settled)
    applied = await db.migrate(pool, name, {"runtime": RUNTIME_MIGRATIONS, "convening": MIGRATIONS})
    assert applied == ["runtime/003_timers", "runtime/004_outbox_urgent_pass",
                       "convening/006_durable_timers"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT to_regclass('timers')") is None
        rows = {r["timer_key"]: (r["state"], r["failures"], r["last_error"], r["settled_at"])
                for r in await conn.fetch("SELECT * FROM durable_timers")}
    assert rows == {warning.key: ("pending", 1, "ValueError", None),
                    lead.key: ("pending", 0, None, None), agenda.key: ("pending", 0, None, None),
                    breach.key: ("parked", 3, "KeyError", T0)}
    async with rolled_back(pool) as conn:
        store = PgConveningStore(conn)
        assert sorted(await store.pending_timers(sid), key=lambda t: t.key) == [lead, warning]
        assert await store.pending_timers(mid) == [agenda]
        end = T0 + timedelta(days=3)

        async def due(skip: list[str]) -> Timer | None:
            row = await store.timer_store.take_due(end, skip)
            return None if row is None else from_row(row)

        assert await due([]) == lead
        assert await due([lead.key]) == warning
        assert await due([lead.key, warning.key]) == agenda
        assert await due([lead.key, warning.key, agenda.key]) is None
