"""Event requests' reminders and purges, and situations' retention, survive their move to the
runtime's ``durable_timers``: a schema migrated as the last release left it (runtime 001-003,
intake 001-020, the due times only in ``event_requests`` and ``situations``) is migrated on
(intake 021, 022); every reminder, purge and retention to come is a pending timer, and the timer
loop fires the due ones as the old loops did."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from uuid6 import uuid7

from schemas.event_requests import (
    EventRequestContactPurged,
    EventRequestExpired,
    EventRequestReminderDue,
)
from services.intake import retention, timer_loop
from services.intake.event_requests import timers
from services.intake.event_requests.decide import EventConfig
from services.intake.main import MIGRATIONS
from services.runtime import db
from services.runtime.clock import ManualClock
from services.runtime.db import Pool
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.settings import Settings
from tests.support.scratch import migrations_until

pytestmark = pytest.mark.integration

T0 = datetime(2031, 3, 4, 15, 0, 0, 123456, tzinfo=UTC)
LEGACY = """
INSERT INTO event_requests (request_id, status, kind, municipality, district, last_preferred_date,
                            answered_at, reminder_level, next_reminder_at, has_contact,
                            purge_after, confirm_expires_at)
VALUES ($1, $2, 'speaker', 'milton', 'district_1', $3, $4, $5, $6, $7, $8, $9)
"""
CONTACT = """
INSERT INTO event_request_contacts (request_id, key_id, nonce, ciphertext, stored_at)
VALUES ($1, 'dev-1', '\\x00', '\\x00', $2)
"""



@pytest.fixture
async def schema(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[Pool, str]]:
    name = f"test_intake_timers_{uuid.uuid4().hex[:8]}"
    pool = await db.create_pool(settings, name)
    try:
        await db.migrate(pool, name, {"runtime": RUNTIME_MIGRATIONS,
                                      "intake": migrations_until(MIGRATIONS, 20, tmp_path / "intake")})
        yield pool, name
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {name} CASCADE")
        await pool.close()


async def test_the_last_releases_reminders_and_purges_fire_from_the_runtimes_table(
        schema: tuple[Pool, str]) -> None:
    pool, name = schema
    waiting, reminded, expiring, done = uuid7(), uuid7(), uuid7(), uuid7()
    remind_at, purge_at = T0 + timedelta(days=1), T0 + timedelta(days=40)
    expires_at = T0 + timedelta(hours=2)
    async with pool.acquire() as conn:
        for rid, status, level, next_at, purge_after, expires in (
                (waiting, "acknowledged", 0, remind_at, purge_at, None),
                (reminded, "acknowledged", 2, None, purge_at + timedelta(days=1), None),
                (expiring, "awaiting_confirmation", 0, None, expires_at, expires_at),
                (done, "declined", 0, None, None, None)):
            await conn.execute(LEGACY, rid, status, date(2031, 4, 1), T0, level, next_at, True,
                               purge_after, expires)
            await conn.execute(CONTACT, rid, T0)
    applied = await db.migrate(pool, name, {"runtime": RUNTIME_MIGRATIONS, "intake": MIGRATIONS})
    assert applied == ["intake/021_event_request_timers", "intake/022_retention_timers",
                       "intake/023_referrals_by_situation"]
    async with pool.acquire() as conn:
        rows = {r["timer_key"]: (r["kind"], r["aggregate_id"], r["due_at"], r["state"])
                for r in await conn.fetch("SELECT * FROM durable_timers")}
    remind, purge = timers.REMINDER, timers.PURGE
    assert rows == {
        timers.timer_key(remind, waiting): (remind, waiting, remind_at, "pending"),
        timers.timer_key(purge, waiting): (purge, waiting, purge_at, "pending"),
        timers.timer_key(purge, reminded): (purge, reminded, purge_at + timedelta(days=1),
                                            "pending"),
        timers.timer_key(purge, expiring): (purge, expiring, expires_at, "pending")}

    clock = ManualClock(remind_at)  # the expiry and the first reminder are due
    fire = timer_loop.firing(inactive_days=180, event_config=EventConfig())
    assert await timer_loop.fire_due(pool, name, fire, clock) == 2
    async with pool.acquire() as conn:
        states = {r["request_id"]: (r["status"], r["reminder_level"], r["purge_after"])
                  for r in await conn.fetch("SELECT * FROM event_requests")}
        contacts = {r["request_id"] for r in await conn.fetch(
            "SELECT request_id FROM event_request_contacts")}
        headers = [dict(json.loads(r["headers"])) for r in await conn.fetch(
            "SELECT headers FROM outbox ORDER BY seq")]
    assert states[expiring] == ("expired", 0, None)
    assert states[waiting][:2] == ("acknowledged", 1)
    assert contacts == {waiting, reminded, done}
    assert [h["ce_type"] for h in headers] == [
        EventRequestExpired.ce_type, EventRequestContactPurged.ce_type,
        EventRequestReminderDue.ce_type]


SITUATION = """
INSERT INTO situations (situation_id, agency_id, referral_ref, district, status, purge_after,
                        purged_at, opened_at, last_activity_at)
VALUES ($1, 'halton-hospital', $2, 'district_2', $3, $4, $5, $6, $7)
"""
VAULT = """
INSERT INTO vault (situation_id, key_id, nonce, ciphertext, stored_at)
VALUES ($1, 'dev-1', '\\x00', '\\x00', $2)
"""


async def test_the_last_releases_retention_keeps_purging_from_the_runtimes_table(
        schema: tuple[Pool, str]) -> None:
    pool, name = schema
    idle, busy, concluded, kept, purged = (uuid7() for _ in range(5))
    long_ago = T0 - timedelta(days=200)
    async with pool.acquire() as conn:
        for sid, status, purge_after, purged_at, activity in (
                (idle, "open", None, None, long_ago), (busy, "open", None, None, T0),
                (concluded, "concluded", T0 - timedelta(days=1), None, long_ago),
                (kept, "concluded", T0 + timedelta(days=30), None, long_ago),
                (purged, "concluded", None, long_ago, long_ago)):
            await conn.execute(SITUATION, sid, str(sid), status, purge_after, purged_at,
                               long_ago, activity)
            if purged_at is None:
                await conn.execute(VAULT, sid, long_ago)
    await db.migrate(pool, name, {"runtime": RUNTIME_MIGRATIONS, "intake": MIGRATIONS})
    async with pool.acquire() as conn:
        rows = {r["timer_key"]: (r["due_at"], r["state"])
                for r in await conn.fetch("SELECT * FROM durable_timers")}
    inactive, kept_for = retention.INACTIVE_TIMER, retention.RETENTION_TIMER
    assert rows == {
        retention.timer_key(inactive, idle): (long_ago, "pending"),
        retention.timer_key(inactive, busy): (T0, "pending"),
        retention.timer_key(kept_for, concluded): (T0 - timedelta(days=1), "pending"),
        retention.timer_key(kept_for, kept): (T0 + timedelta(days=30), "pending")}

    fire = timer_loop.firing(inactive_days=180, event_config=EventConfig())
    assert await timer_loop.fire_due(pool, name, fire, ManualClock(T0)) == 2
    async with pool.acquire() as conn:
        reasons = {r["situation_id"]: r["purge_reason"]
                   for r in await conn.fetch("SELECT * FROM situations")}
        vault = {r["situation_id"] for r in await conn.fetch("SELECT situation_id FROM vault")}
        timers_now = {r["timer_key"]: (r["due_at"], r["state"])
                      for r in await conn.fetch("SELECT * FROM durable_timers")}
    assert reasons == {idle: "inactive", busy: None, concluded: "retention_expired", kept: None,
                       purged: None}
    assert vault == {busy, kept}
    assert timers_now[retention.timer_key(inactive, busy)] == (
        T0 + timedelta(days=180), "pending"), "moved to its time"
