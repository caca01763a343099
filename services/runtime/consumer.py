"""Effectively-once consumption: decode, handle in one transaction with the inbox, then commit.

A batch of records is handled in one PostgreSQL transaction: for each record the inbox row
``(consumer, ce_source, ce_id)``, the handler's own writes and the events it emits (outbox rows).
Only after that transaction commits does the caller commit the Kafka offsets. A redelivered
record finds its inbox row and changes nothing.

When a batch fails, the failure policy decides: a transient failure (database or broker away)
retries the batch with backoff, never committing and never dropping; anything else makes us
handle the batch record by record, so that the one poison record is dead-lettered (original
bytes plus ``error``, ``orig_topic``, ``orig_partition``, ``orig_offset`` headers) and its
neighbours go through.

The inbox rows of a batch are written in one statement. A consumer may also give a batch-level
handler (``handle_batch``): it gets every new (not duplicate) record of the transaction at once,
in order, so it can read and write set-wise instead of a few round trips per record; the
per-record fallback above then calls it with one record at a time.

A topic and its urgent lane share an inbox (docs/adr/0006), and a record with a lane copy comes
both ways in. Such a record (``both_ways``) is claimed with its inbox row: while one way's
transaction has it, the other way leaves it to that one, as a duplicate, instead of waiting for
the transaction to end. Before, a routine batch on the main topic waited behind an urgent
placement on the lane for the copy it held (convening's inbox insert: 14-66 ms a batch on
average in the pipeline bench, 0.4-0.7 ms claimed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar
from uuid import UUID

import asyncpg
import structlog

from schemas.errors import CommandeError, TransientError
from services.runtime import inbox, outbox
from services.runtime.cooperative import cooperatively
from services.runtime.db import DB_UNAVAILABLE, Connection, Pool
from services.runtime.dead_letters import DeadLetters
from services.runtime.failure import DeadLetter, FailurePolicy, describe
from services.runtime.kafka import InRecord, OutRecord, Producer
from services.runtime.logging import get_logger
from services.runtime.metrics import METRICS
from services.runtime.pause import pause

log = get_logger("commande.consumer")


class Identified(Protocol):
    """What the inbox needs of a decoded record: its CloudEvents source and id."""

    @property
    def source(self) -> str: ...

    @property
    def id(self) -> UUID | str: ...


D = TypeVar("D", bound=Identified)

Decode = Callable[[InRecord], D]
Handle = Callable[[Connection, D, InRecord], Awaitable[Sequence[OutRecord]]]
HandleBatch = Callable[[Connection, Sequence[tuple[D, InRecord]]], Awaitable[Sequence[OutRecord]]]
"""Handles the new records of one transaction together (in order); returns what they emit."""
OnDeadLetter = Callable[[Connection, InRecord, BaseException], Awaitable[Sequence[OutRecord]]]


DETERMINISTIC_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError,
                           NotADirectoryError)


class ShuttingDown(CommandeError):
    """Raised out of a retry loop when the service stops: nothing was committed."""


class Consumer(Generic[D]):
    """One logical consumer of one service (its name is the inbox's ``consumer`` column)."""

    def __init__(
        self,
        name: str,
        schema: str,
        pool: Pool,
        producer: Producer,
        decode: Decode[D],
        handle: Handle[D],
        *,
        policy: FailurePolicy | None = None,
        on_dead_letter: OnDeadLetter | None = None,
        stopping: asyncio.Event | None = None,
        skip_types: frozenset[str] = frozenset(),
        handle_batch: HandleBatch[D] | None = None,
        dead_letters: DeadLetters | None = None,
        both_ways: Callable[[D], bool] | None = None,
        inbox_name: str | None = None,
    ) -> None:
        self.name = name
        self.inbox_name = inbox_name or name
        """The inbox's ``consumer`` column: consumers that share it handle a record once
        between them (a topic and its urgent lane)."""
        self._schema = schema
        self._pool = pool
        self._producer = producer
        self._decode = decode
        self._handle = handle
        self._handle_batch = handle_batch
        self._policy = policy or FailurePolicy()
        self._on_dead_letter = on_dead_letter
        self._stopping = stopping or asyncio.Event()
        self._skip = frozenset(t.encode() for t in skip_types)
        self._dead_letters = dead_letters or DeadLetters()
        self._both_ways = both_ways

    async def process(self, records: Sequence[InRecord]) -> None:
        """Handle ``records`` effectively once; returns when the offsets may be committed."""
        decoded: list[tuple[InRecord, D]] = []
        async for rec in cooperatively(records):
            if self._skip and _ce_type(rec) in self._skip:
                continue  # a well-formed type this consumer has no business with: not even decoded
            try:
                decoded.append((rec, self._decode(rec)))
            except CommandeError as exc:
                await self._dead_letter(rec, exc, describe(exc))
        if not decoded:
            return
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._transaction(decoded)
                return
            except Exception as exc:
                error = _translate(exc)
                decision = self._policy.decide(error, attempt)
                METRICS.failed.labels(self.name, type(error).__name__).inc()
                if isinstance(decision, DeadLetter) or (len(decoded) > 1 and not isinstance(
                        error, TransientError)):
                    break
                log.warning("batch failed, retrying", consumer=self.name,
                            error=describe(error), attempt=attempt, retry_in=decision.after)
                await self._sleep(decision.after)
        for one in decoded:
            await self._one(one)

    async def _one(self, item: tuple[InRecord, D]) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._transaction([item])
                return
            except Exception as exc:
                error = _translate(exc)
                decision = self._policy.decide(error, attempt)
                METRICS.failed.labels(self.name, type(error).__name__).inc()
                if isinstance(decision, DeadLetter):
                    await self._dead_letter(item[0], error, decision.reason)
                    return
                log.warning("record failed, retrying", consumer=self.name,
                            event_id=str(item[1].id), error=describe(error), attempt=attempt,
                            retry_in=decision.after)
                await self._sleep(decision.after)

    async def _transaction(self, items: Sequence[tuple[InRecord, D]]) -> None:
        emitted: list[OutRecord] = []
        async with self._pool.acquire() as conn, conn.transaction():
            new = await inbox.record_many(
                conn, self.inbox_name, [(event.source, str(event.id)) for _, event in items],
                None if self._both_ways is None else [self._both_ways(e) for _, e in items])
            fresh: list[tuple[D, InRecord]] = []
            for (rec, event), is_new in zip(items, new, strict=True):
                if is_new:
                    fresh.append((event, rec))
                    continue
                METRICS.duplicates.labels(self.name).inc()
                log.info("duplicate dropped (handled, or being handled the other way in)",
                         consumer=self.name, event_id=str(event.id))
            if self._handle_batch is not None and fresh:
                emitted.extend(await self._handle_batch(conn, fresh))
            else:
                for event, rec in fresh:
                    with structlog.contextvars.bound_contextvars(event_id=str(event.id)):
                        emitted.extend(await self._handle(conn, event, rec))
            await outbox.add(conn, self._schema, emitted)
        METRICS.handled.labels(self.name).inc(len(fresh))

    async def _dead_letter(self, rec: InRecord, error: BaseException, reason: str) -> None:
        log.error("dead-lettered", consumer=self.name, topic=rec.topic,
                  partition=rec.partition, offset=rec.offset, error=reason)
        attempt = 0
        while True:
            attempt += 1
            try:
                if self._on_dead_letter is not None:
                    async with self._pool.acquire() as conn, conn.transaction():
                        # Once per record, even if the DLQ publish below fails and we retry.
                        where = f"{rec.topic}/{rec.partition}/{rec.offset}"
                        if await inbox.record_handled(conn, self.inbox_name, "dead-letter", where):
                            await outbox.add(conn, self._schema,
                                             await self._on_dead_letter(conn, rec, error))
                await self._producer.send_many([self._dead_letters.record(rec, reason, self.name)])
                METRICS.dead_lettered.labels(self.name).inc()
                return
            except Exception as exc:
                translated = _translate(exc)
                if not isinstance(translated, TransientError):
                    raise
                await self._sleep(self._policy.backoff(attempt))

    async def _sleep(self, seconds: float) -> None:
        if not await pause(seconds, self._stopping):
            return
        raise ShuttingDown("stopping while retrying; the records will be redelivered")


def _ce_type(rec: InRecord) -> bytes | None:
    for name, value in rec.headers:
        if name == "ce_type":
            return value
    return None


def _translate(exc: BaseException) -> BaseException:
    """Driver errors that mean "try again" become :class:`TransientError`: the database is
    unavailable, or it chose this transaction as a deadlock or serialization victim. An OS error
    that the same input would meet again (a missing file) is not one of them."""
    if isinstance(exc, DETERMINISTIC_OS_ERRORS):
        return exc
    if isinstance(exc, DB_UNAVAILABLE):
        return TransientError(f"PostgreSQL unavailable ({type(exc).__name__})")
    if isinstance(exc, asyncpg.DeadlockDetectedError | asyncpg.SerializationError):
        return TransientError(f"PostgreSQL asked for a retry ({type(exc).__name__})")
    return exc
