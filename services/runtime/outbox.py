"""The transactional outbox and its relay.

A handler writes the events it emits with :func:`add` in its own transaction; they exist if and
only if that transaction commits. The :class:`OutboxRelay` publishes each topic's unsent rows in
``seq`` order (so in order per key) with the idempotent producer, then marks them sent. A relay
killed between publish and mark-sent publishes those rows again on restart: consumers drop the
repeat through their inbox, since the event keeps its ``ce_id``.

The relay makes two passes, each a worker of its own (:func:`relay_worker`): the urgent rows (an
urgent lane's copies, :attr:`~services.runtime.kafka.OutRecord.urgent`) and the others. A routine
backlog in the outbox, or a large batch of it being published, never holds back a lane
(docs/adr/0006). A topic's rows are all urgent (a lane) or all not, so each topic, and each key,
still gets its rows from one pass in ``seq`` order.

Each pass is a :func:`~services.runtime.worker.worker` of the service (registered by
:class:`~services.runtime.service.Service`): its step publishes one batch in one transaction whose
first statement takes the pass's transaction-level advisory lock on the schema
(``pg_try_advisory_xact_lock``) and fetches the batch (:data:`LOCK_AND_FETCH`); it then publishes
the batch (waiting for Kafka's acknowledgement) and marks it sent. So one instance publishes a pass
of a schema's outbox at a time, and the lock is released only at commit, once the batch is in Kafka
and its marks are visible: the instance that takes it next (any of them, between two batches)
starts after it, so a pass never publishes out of ``seq`` order. An instance that finds the lock
taken leaves the batch to its holder. Each pass's worker wakes on ``LISTEN/NOTIFY`` on a channel of
its own (:func:`channel`: a commit notifies the passes it wrote rows for) and also polls, so a lost
notification only delays; a PostgreSQL or Kafka outage is logged as a wait and backed off.
:meth:`OutboxRelay.flush` publishes what is left at graceful shutdown.

Housekeeping is a second worker (:func:`housekeeping_worker`), not part of the relay's step, so
that a slow or failing prune (a service's statement with a bug) neither holds back publishing nor
rolls back a published batch's marks: every minute, under another transaction-level advisory lock
(one instance at a time), it deletes outbox rows sent over an hour ago (:data:`PRUNE_SENT`:
by the primary key, in ``seq`` order) and, when an hour has
passed on this instance, runs the schema's pruning statements: the inbox past its de-duplication
window, and what a service registered (:meth:`services.runtime.service.Service.prune`). With
several instances each prunes hourly, one after the other; a prune deletes old rows, so a second
run the same hour finds little to do.

A row Kafka can never take (over the record size limit: a bug, not a state of the world) would
otherwise hold back every row after it for ever: it goes to the dead-letter topic instead
(:mod:`services.runtime.dead_letters`) and the rows around it are published.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.runtime.db import Connection, Pool
from services.runtime.dead_letters import DeadLetters
from services.runtime.kafka import OutRecord, Producer, UndeliverableRecord
from services.runtime.logging import get_logger
from services.runtime.metrics import METRICS
from services.runtime.worker import worker

if TYPE_CHECKING:
    from services.runtime.service import BackgroundLoop, Service

INSERT = """
WITH added AS (
    INSERT INTO outbox (topic, key, headers, value, urgent)
    SELECT * FROM unnest($1::text[], $2::bytea[], $3::jsonb[], $4::bytea[], $6::boolean[])
)
SELECT pg_notify(c, '') FROM unnest($5::text[]) AS c
"""
"""The rows, and a ``NOTIFY`` on the channel of each pass they are for (:func:`channel`)."""
LOCK_AND_FETCH = """
SELECT lock.held, o.seq, o.topic, o.key, o.headers, o.value
FROM (SELECT pg_try_advisory_xact_lock(hashtext('commande.outbox.' || $3)) AS held) AS lock
LEFT JOIN LATERAL (
    SELECT seq, topic, key, headers, value FROM outbox
    WHERE lock.held AND sent_at IS NULL AND urgent = $2 ORDER BY seq LIMIT $1
) AS o ON true
ORDER BY o.seq
"""
"""A pass's lock (``$3``: :func:`pass_lock`), held by the transaction until its commit, and
if it was free the pass's next batch (the urgent rows, lane copies, or the others) in one round
trip: one row with ``held`` false when another instance holds it, one with a null ``seq`` when
nothing is waiting, else a row per record."""
MARK_SENT = "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])"
PRUNE_SENT = """
DELETE FROM outbox WHERE seq < coalesce(
    (SELECT seq FROM outbox WHERE sent_at IS NULL OR sent_at >= now() - interval '1 hour'
     ORDER BY seq LIMIT 1),
    (SELECT max(seq) + 1 FROM outbox))
"""
"""Every row below the first (in ``seq`` order) that is unsent or was sent within the hour: all
sent over an hour ago. Found by walking the primary key from its start through the rows it
deletes, not by scanning the table: ``sent_at < now() - '1 hour'`` read the whole outbox every
minute, an hour of rows at the issue's load (on the bench's database: 0.17 s with the bench
stopped, 0.6-0.7 s once in each steady 60 s run, 3.9 and 7.7 s in one). A row sent over an hour
ago above an unsent or recent one waits for a later prune."""
PRUNE_INBOX = "DELETE FROM inbox WHERE handled_at < now() - make_interval(days => $1)"
HOUSEKEEPING_EVERY = 3600.0
"""Seconds between two runs of a schema's pruning statements (the inbox's, a service's own)."""
PRUNE_SENT_EVERY = 60.0
"""Seconds between two looks of the housekeeping worker (sent rows are deleted at each)."""
BACKLOG = "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
TRY_HOUSEKEEPING_LOCK = """
SELECT pg_try_advisory_xact_lock(hashtext('commande.housekeeping.' || $1))
"""


@dataclass(frozen=True, slots=True)
class Prune:
    """A bookkeeping table's pruning: a named statement deleting rows older than ``days``
    (its ``$1``)."""

    name: str
    sql: str
    days: int

log = get_logger("commande.outbox")


def channel(schema: str, *, urgent: bool = False) -> str:
    """The NOTIFY channel of a pass of a schema's outbox: a commit wakes only the passes that
    have rows to publish (a routine batch never wakes the urgent pass for nothing, nor a lane
    copy the routine one)."""
    return f"{schema}_outbox_urgent" if urgent else f"{schema}_outbox"


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
        [channel(schema, urgent=u) for u in sorted({r.urgent for r in records})],
        [r.urgent for r in records],
    )


def _to_record(row: Any) -> OutRecord:
    headers = tuple((str(k), str(v).encode()) for k, v in json.loads(row["headers"]))
    return OutRecord(topic=row["topic"], value=bytes(row["value"]),
                     key=bytes(row["key"]) if row["key"] is not None else None, headers=headers)


class OutboxRelay:
    """Publishes a service's outbox: :meth:`publish` is the step of :func:`relay_worker`,
    :meth:`housekeeping` that of :func:`housekeeping_worker`, :meth:`flush` runs at shutdown."""

    def __init__(self, pool: Pool, producer: Producer, schema: str, *, batch: int = 500,
                 dead_letters: DeadLetters | None = None, prunes: Sequence[Prune] = ()) -> None:
        self._pool = pool
        self._prunes = tuple(prunes)
        self._dead_letters = dead_letters or DeadLetters()
        self._producer = producer
        self._schema = schema
        self._batch = batch
        self._housekeeping_at = float("-inf")

    async def publish(self, *, urgent: bool = False) -> bool:
        """Publish one batch of the routine pass (or the ``urgent`` one) unless another instance
        is publishing it; whether a full batch was published (more may be waiting)."""
        return await self._batch_under_lock(urgent) == self._batch

    async def drain(self) -> int:
        """Publish every unsent row now, urgent first, batch after batch, while no other
        instance is publishing that pass; returns how many were published."""
        total = 0
        for urgent in (True, False):
            while True:
                published = await self._batch_under_lock(urgent)
                total += published or 0
                if published is None or published < self._batch:
                    break
        return total

    async def flush(self) -> int:
        """Publish what is left (graceful shutdown) unless another instance is publishing it;
        returns how many."""
        return await self.drain()

    async def _batch_under_lock(self, urgent: bool) -> int | None:
        """One batch of a pass in one transaction holding the pass's lock: how many rows were
        published, ``None`` if another instance holds the lock."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(LOCK_AND_FETCH, self._batch, urgent,
                                    pass_lock(self._schema, urgent))
            if not rows[0]["held"]:
                return None
            if rows[0]["seq"] is None:
                return 0
            await self._publish([(int(r["seq"]), _to_record(r)) for r in rows])
            await conn.execute(MARK_SENT, [r["seq"] for r in rows])
        METRICS.outbox_published.labels(self._schema).inc(len(rows))
        return len(rows)

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

    async def housekeeping(self) -> bool:
        """Unless another instance is at it: delete rows sent over an hour ago and, when an hour
        has passed since this instance last did, run the schema's pruning statements, in one
        transaction. Never more waiting (``False``)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(TRY_HOUSEKEEPING_LOCK, self._schema):
                return False
            await conn.execute(PRUNE_SENT)
            now = asyncio.get_running_loop().time()
            if now >= self._housekeeping_at:
                await self.housekeep(conn)
                self._housekeeping_at = now + HOUSEKEEPING_EVERY
        return False

    async def housekeep(self, conn: Connection) -> dict[str, int]:
        """Run the schema's pruning statements; returns rows deleted per statement."""
        deleted: dict[str, int] = {}
        for prune in self._prunes:
            status: str = await conn.execute(prune.sql, prune.days)
            deleted[prune.name] = int(status.rsplit(" ", 1)[1])
        if any(deleted.values()):
            log.info("bookkeeping pruned", schema=self._schema, **deleted)
        return deleted


def pass_lock(schema: str, urgent: bool) -> str:
    """The name whose hash is the advisory lock of a pass (:data:`LOCK_AND_FETCH`)."""
    return f"{schema}.urgent" if urgent else schema


def relay_worker(schema: str, *, urgent: bool = False, poll_interval: float = 1.0
                 ) -> BackgroundLoop:
    """The worker publishing the service's routine outbox rows, or its ``urgent`` ones
    (:meth:`OutboxRelay.publish`): woken by a ``NOTIFY`` on the schema's :func:`channel`, else
    every ``poll_interval`` seconds. The two run side by side, so no routine batch is ever in
    the urgent rows' way."""

    async def step(svc: Service) -> bool:
        return await svc.relay.publish(urgent=urgent)

    return worker("outbox-relay-urgent" if urgent else "outbox-relay", step,
                  interval=poll_interval, channel=channel(schema, urgent=urgent))


def housekeeping_worker() -> BackgroundLoop:
    """The worker pruning the schema's bookkeeping (:meth:`OutboxRelay.housekeeping`)."""

    async def step(svc: Service) -> bool:
        return await svc.relay.housekeeping()

    return worker("outbox-housekeeping", step, interval=PRUNE_SENT_EVERY)
