"""intake's retention loop, a shell like the handlers: load what is due -> purge -> emit.

Each batch is one transaction: the situations due are locked (another instance skips them),
their identity destroyed and an ``IdentityPurged`` per situation written to the outbox with it.
What is due and what the fact says are decided in :mod:`services.intake.retention`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.intake import retention
from services.intake.handlers import SOURCE
from services.intake.ports import IntakeStore
from services.intake.store import PgIntakeStore
from services.runtime import events, outbox
from services.runtime.db import Connection, Pool
from services.runtime.kafka import OutRecord
from services.runtime.logging import get_logger

PURGE_BATCH = 100
log = get_logger("commande.intake")


async def purge_due(pool: Pool, now: datetime, inactive_days: int, *, schema: str = "intake",
                    stores: Callable[[Connection], IntakeStore] = PgIntakeStore) -> int:
    """Purge every concluded situation whose retention period ended by ``now``, and every open
    one with no activity for ``inactive_days``; returns how many."""
    total = 0
    passes: tuple[tuple[retention.PurgeReason, datetime], ...] = (
        ("retention_expired", now), ("inactive", retention.inactive_since(now, inactive_days)))
    for reason, until in passes:
        while True:
            async with pool.acquire() as conn, conn.transaction():
                count, records = await purge_batch(stores(conn), now, reason, until, PURGE_BATCH)
                await outbox.add(conn, schema, records)
            total += count
            if count:
                log.info("identities purged", reason=reason, count=count)
            if count < PURGE_BATCH:
                break
    return total


async def purge_batch(store: IntakeStore, now: datetime, reason: retention.PurgeReason,
                      until: datetime, limit: int) -> tuple[int, list[OutRecord]]:
    """One batch: up to ``limit`` situations due (by purge date, or ``inactive`` by last
    activity at or before ``until``) purged at ``now``; how many, and the records to emit."""
    due = (await store.due_inactive(until, limit) if reason == "inactive"
           else await store.due_for_purge(until, limit))
    records: list[OutRecord] = []
    for situation_id in due:
        row = await store.get_situation(situation_id)
        count = await store.purge(situation_id, reason, now)
        records.append(events.emit(retention.purged(
            situation_id, reason, count, now, row.district if row is not None else None),
            source=SOURCE, time=now))
    return len(due), records
