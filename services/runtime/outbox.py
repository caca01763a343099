"""The transactional outbox and its relay.

A handler writes the events it emits with :func:`add` in its own transaction; they exist if and
only if that transaction commits. The :class:`OutboxRelay` publishes unsent rows in ``seq`` order
(so in order per key) with the idempotent producer, then marks them sent. A relay killed between
publish and mark-sent publishes those rows again on restart: consumers drop the repeat through
their inbox, since the event keeps its ``ce_id``. One relay per service schema is active at a time
(a PostgreSQL advisory lock held on a dedicated connection); it wakes on ``LISTEN/NOTIFY`` and also
polls, so a lost notification only delays. The leader also prunes, hourly, the schema's
bookkeeping: the inbox past its de-duplication window, and what a service registered
(:meth:`services.runtime.service.Service.prune`).

A row Kafka can never take (over the record size limit: a bug, not a state of the world) would
otherwise hold back every row after it for ever: it goes to the dead-letter topic instead
(:mod:`services.runtime.dead_letters`) and the rows around it are published.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemas.errors import TransientError
from services.runtime.db import DB_UNAVAILABLE, Acquired, Connection, Pool
from services.runtime.dead_letters import DeadLetters
from services.runtime.failure import RECONNECT
from services.runtime.kafka import OutRecord, Producer, UndeliverableRecord
from services.runtime.logging import get_logger
from services.runtime.metrics import METRICS
from services.runtime.pause import pause

INSERT = """
WITH added AS (
    INSERT INTO outbox (topic, key, headers, value)
    SELECT * FROM unnest($1::text[], $2::bytea[], $3::jsonb[], $4::bytea[])
)
SELECT pg_notify($5, '')
"""
FETCH_UNSENT = """
SELECT seq, topic, key, headers, value FROM outbox
WHERE sent_at IS NULL ORDER BY seq LIMIT $1
"""
MARK_SENT = "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])"
PRUNE_SENT = "DELETE FROM outbox WHERE sent_at < now() - interval '1 hour'"
PRUNE_INBOX = "DELETE FROM inbox WHERE handled_at < now() - make_interval(days => $1)"
HOUSEKEEPING_EVERY = 3600.0
"""Seconds between two runs of a schema's pruning statements (the inbox's, a service's own)."""


@dataclass(frozen=True, slots=True)
class Prune:
    """A bookkeeping table's pruning: a named statement deleting rows older than ``days``
    (its ``$1``)."""

    name: str
    sql: str
    days: int
BACKLOG = "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
TRY_LOCK = "SELECT pg_try_advisory_lock(hashtext('commande.outbox.' || $1))"

log = get_logger("commande.outbox")


def channel(schema: str) -> str:
    """The NOTIFY channel of a schema's outbox."""
    return f"{schema}_outbox"


async def add(conn: Connection, schema: str, records: Sequence[OutRecord]) -> None:
    """Write ``records`` to the outbox in the caller's transaction and wake the relay on commit."""
    if not records:
        return
    await conn.execute(
        INSERT,
        [r.topic for r in records],
        [r.key for r in records],
        [json.dumps([[k, v.decode()] for k, v in r.headers]) for r in records],
        [r.value for r in records],
        channel(schema),
    )


def _to_record(row: Any) -> OutRecord:
    headers = tuple((str(k), str(v).encode()) for k, v in json.loads(row["headers"]))
    return OutRecord(topic=row["topic"], value=bytes(row["value"]),
                     key=bytes(row["key"]) if row["key"] is not None else None, headers=headers)


class OutboxRelay:
    """Publishes a service's outbox; run :meth:`run` as a task, :meth:`flush` at shutdown."""

    def __init__(self, pool: Pool, producer: Producer, schema: str, *, batch: int = 500,
                 poll_interval: float = 1.0, dead_letters: DeadLetters | None = None,
                 prunes: Sequence[Prune] = ()) -> None:
        self._pool = pool
        self._prunes = tuple(prunes)
        self._dead_letters = dead_letters or DeadLetters()
        self._producer = producer
        self._schema = schema
        self._batch = batch
        self._poll = poll_interval
        self._wake = asyncio.Event()
        self._drain_lock = asyncio.Lock()
        self.leader = False

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def drain(self) -> int:
        """Publish every unsent row now; returns how many were published."""
        total = 0
        async with self._drain_lock:
            while True:
                async with self._pool.acquire() as conn:
                    rows = await conn.fetch(FETCH_UNSENT, self._batch)
                    if not rows:
                        return total
                    await self._publish([(int(r["seq"]), _to_record(r)) for r in rows])
                    await conn.execute(MARK_SENT, [r["seq"] for r in rows])
                total += len(rows)
                METRICS.outbox_published.labels(self._schema).inc(len(rows))
                if len(rows) < self._batch:
                    return total

    async def _publish(self, rows: Sequence[tuple[int, OutRecord]]) -> None:
        """Publish ``rows`` in order; one Kafka cannot take is dead-lettered in its place."""
        if not rows:
            return
        try:
            await self._producer.send_many([rec for _, rec in rows])
            return
        except UndeliverableRecord as exc:
            if exc.index is None and len(rows) > 1:  # the broker did not say which: one by one
                for row in rows:
                    await self._publish([row])
                return
            bad = exc.index or 0
            reason = str(exc)
        await self._publish(rows[:bad])
        seq, rec = rows[bad]
        log.error("outbox row dead-lettered: Kafka cannot take it", schema=self._schema, seq=seq,
                  topic=rec.topic, error=reason)
        await self._producer.send_many(
            [self._dead_letters.unpublished(rec, reason, f"{self._schema}-outbox", offset=seq)])
        await self._publish(rows[bad + 1:])

    async def backlog(self) -> int:
        """Rows not yet published."""
        async with self._pool.acquire() as conn:
            return int(await conn.fetchval(BACKLOG))

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; waits for the leader lock while another instance has it."""
        failures = 0
        while not stop.is_set():
            try:
                await self._lead(stop)
                failures = 0
            except (TransientError, *DB_UNAVAILABLE) as exc:  # type: ignore[misc]
                failures += 1
                self.leader = False
                log.warning("outbox relay waiting for its dependencies", schema=self._schema,
                            error=type(exc).__name__, attempt=failures)
                await pause(RECONNECT.backoff(failures), stop)

    async def _lead(self, stop: asyncio.Event) -> None:
        conn: Acquired = await self._pool.acquire()
        try:
            if not await conn.fetchval(TRY_LOCK, self._schema):
                await pause(2.0, stop)
                return
            self.leader = True
            await conn.add_listener(channel(self._schema), self._notified)
            prune_at = housekeeping_at = 0.0
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                self._wake.clear()
                await self.drain()
                if loop.time() > prune_at:
                    await conn.execute(PRUNE_SENT)
                    prune_at = loop.time() + 60
                if loop.time() > housekeeping_at:
                    await self.housekeep(conn)
                    housekeeping_at = loop.time() + HOUSEKEEPING_EVERY
                if conn.is_closed():
                    raise TransientError("the relay's leader connection closed")
                await pause(self._poll, self._wake, stop)
        finally:
            self.leader = False
            with contextlib.suppress(*DB_UNAVAILABLE):
                await conn.remove_listener(channel(self._schema), self._notified)
                await self._pool.release(conn, timeout=5)

    async def housekeep(self, conn: Connection) -> dict[str, int]:
        """Run the schema's pruning statements; returns rows deleted per statement."""
        deleted: dict[str, int] = {}
        for prune in self._prunes:
            status: str = await conn.execute(prune.sql, prune.days)
            deleted[prune.name] = int(status.rsplit(" ", 1)[1])
        if any(deleted.values()):
            log.info("bookkeeping pruned", schema=self._schema, **deleted)
        return deleted

    async def flush(self) -> int:
        """Publish what is left (graceful shutdown) unless another instance leads; returns how many.

        Session-level advisory locks end when asyncpg resets a released connection.
        """
        async with self._pool.acquire() as conn:
            if not await conn.fetchval(TRY_LOCK, self._schema):
                return 0
            return await self.drain()
