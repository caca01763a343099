"""The shell every service shares: broker, pool, producer, outbox relay, consumers, HTTP routes.

A service's composition root (its ``main.build``) creates a :class:`Service`, registers its
consumers, background loops and routes on it, and returns it. ``commande run`` then starts it
(docs/adr/0007); tests call the same ``build`` with their own settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.kafka.schemas import Topic
from starlette.routing import BaseRoute

from schemas.errors import CommandeError, ConfigurationError, TransientError
from schemas.topics import topic as registered
from services.runtime import db, kafka_client
from services.runtime.consumer import (
    Consumer,
    D,
    Decode,
    Handle,
    HandleBatch,
    OnDeadLetter,
    ShuttingDown,
)
from services.runtime.db import Pool
from services.runtime.dead_letters import DeadLetters
from services.runtime.failure import RECONNECT
from services.runtime.kafka import InRecord, Producer
from services.runtime.lag import LagReader
from services.runtime.logging import get_logger
from services.runtime.loop_lag import loop_lag_probe
from services.runtime.metrics import METRICS
from services.runtime.outbox import (
    PRUNE_INBOX,
    OutboxRelay,
    Prune,
    housekeeping_worker,
    relay_worker,
)
from services.runtime.settings import Settings
from services.runtime.topics import require_topics

RUNTIME_MIGRATIONS = Path(__file__).with_name("sql")
GATHER_BYTES = 32 * 1024
"""What a gathering consumer's fetch waits for (``Service.consume``'s ``gather``): tens of our
records."""
GATHER_MS = 100
"""How long the broker may hold a gathering consumer's fetch for :data:`GATHER_BYTES`."""
POLL_MS = 1000
"""How long a consumer's poll waits for records before it polls again (it returns as soon as a
fetch brings some): see :func:`_poll_without_sleeping`."""
BackgroundLoop = Callable[["Service", asyncio.Event], Coroutine[Any, Any, None]]
log = get_logger("commande.service")


class Service:
    """One running service: its schema, broker, pool, producer, relay and consumers."""

    def __init__(self, name: str, settings: Settings, migrations: Path | None = None,
                 *, principal: str | None = None) -> None:
        self.name = name
        self.settings = settings
        self.migrations = migrations
        self.principal = principal or name
        """The Kafka principal it connects as (``COMMANDE_KAFKA_USERNAME`` overrides it)."""
        self.broker = KafkaBroker(
            kafka_client.bootstrap_servers(settings),
            security=kafka_client.broker_security(settings, self.principal),
            client_id=f"commande-{name}",
            allow_auto_create_topics=False,
            graceful_timeout=15.0,
            logger=logging.getLogger(f"commande.{name}.faststream"),
            log_level=logging.DEBUG,  # "Received"/"Processed" per message: not for operators
        )
        self.stopping = asyncio.Event()
        self.producer = Producer(settings, self.principal, client_id=f"commande-{name}")
        self.dead_letters = DeadLetters(settings.dlq_public_key)
        self.routes: list[BaseRoute] = []
        self._pool: Pool | None = None
        self._relay: OutboxRelay | None = None
        self._consumers: dict[str, Consumer[Any]] = {}
        self._factories: list[Callable[[], None]] = []
        self._loops: list[BackgroundLoop] = [relay_worker(name), relay_worker(name, urgent=True),
                                             housekeeping_worker(), loop_lag_probe]
        """Its background loops: the outbox relay's three workers, the event loop's probe, then
        those the service registers."""
        self._prunes: list[Prune] = [
            Prune("inbox", PRUNE_INBOX, settings.inbox_retention_days)]
        self._subscriptions: list[tuple[str, str]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.ready = False
        self._lag = LagReader(settings, self.principal)
        self._lag_read_at = float("-inf")
        self._failures: dict[str, int] = {}
        """Batches in a row each consumer could not handle (its redelivery backoff)."""
        self.faststream = FastStream(self.broker, on_startup=[self.start],
                                     on_shutdown=[self.begin_stop], after_shutdown=[self.stop])

    @property
    def pool(self) -> Pool:
        """The service's pool (exists once started)."""
        if self._pool is None:
            raise CommandeError(f"{self.name} is not started")
        return self._pool

    @property
    def relay(self) -> OutboxRelay:
        """The service's outbox relay (exists once started)."""
        if self._relay is None:
            raise CommandeError(f"{self.name} is not started")
        return self._relay

    def consume(self, topic: str | Sequence[str], *, group: str, name: str, decode: Decode[D],
                handle: Handle[D],
                on_dead_letter: OnDeadLetter | None = None, max_records: int = 500,
                skip_types: frozenset[str] = frozenset(),
                handle_batch: HandleBatch[D] | None = None, inbox: str | None = None,
                urgent_lane: str | None = None, both_ways: Callable[[D], bool] | None = None,
                gather: bool = False) -> None:
        """Consume ``topic`` (one or several) in consumer group ``group`` through a
        :class:`Consumer` named ``name``. Several topics in one consumer means one group member,
        so a start costs one rebalance instead of one per topic.

        ``skip_types``: registered CloudEvents types this consumer ignores; such records are
        neither decoded nor recorded (their offsets are committed with the batch).

        ``handle_batch``: a batch-level handler, called with all the new records of a
        transaction instead of ``handle`` once per record (see :mod:`services.runtime.consumer`).

        ``inbox``: the inbox name, when it is not ``name``: an urgent lane's consumer shares its
        main topic's, so a record that comes both ways is handled once (docs/adr/0006).

        ``urgent_lane``: also consume this urgent lane of one of ``topic`` (a topic whose
        ``lane_of`` it is) with the same handlers, as a member of group ``<group>-urgent`` named
        ``<name>-urgent`` whose inbox is this consumer's: no backlog here delays what the lane
        carries (docs/adr/0006).

        ``both_ways``: which records of ``topic`` the urgent lane also carries (their copies); a
        record that one way in is handling is left to it by the other (:class:`Consumer`). Every
        record of the lane is such a copy then.

        ``gather``: let the broker hold a fetch of ``topic`` (not of its urgent lane) up to
        :data:`GATHER_MS` until :data:`GATHER_BYTES` have come, so that a batch gathers more
        records and its fixed cost (a fetch naming each partition, a transaction, an offset
        commit, the relay's publish) is paid for more of them: for a consumer whose records can
        wait that long, or whose urgent ones come by its lane. Otherwise a fetch returns as soon
        as one record is there (Kafka's default), and on a busy machine a consumer cycles through
        batches of one or two records, each costing the CPU the others are waiting for.
        """
        topics = [topic] if isinstance(topic, str) else list(topic)
        if urgent_lane is not None:
            if registered(urgent_lane).lane_of not in topics:
                raise ConfigurationError(f"{name}: {urgent_lane} is not the urgent lane of "
                                         f"{', '.join(topics)}")
            self.consume(urgent_lane, group=f"{group}-urgent", name=f"{name}-urgent",
                         decode=decode, handle=handle, on_dead_letter=on_dead_letter,
                         max_records=max_records, skip_types=skip_types,
                         handle_batch=handle_batch, inbox=inbox or name,
                         both_ways=None if both_ways is None else _every)

        def make() -> None:
            self._consumers[name] = Consumer(
                name, self.name, self.pool, self.producer, decode, handle,
                on_dead_letter=on_dead_letter, stopping=self.stopping, skip_types=skip_types,
                handle_batch=handle_batch, dead_letters=self.dead_letters, inbox_name=inbox,
                both_ways=both_ways)

        self._factories.append(make)
        self._subscriptions.extend((group, t) for t in topics)

        subscriber = self.broker.subscriber(
            *(Topic(t, declare=False) for t in topics), group_id=group, batch=True, max_records=max_records,
            ack_policy=AckPolicy.MANUAL, auto_offset_reset="earliest", batch_timeout_ms=POLL_MS,
            fetch_min_bytes=GATHER_BYTES if gather else 1,
            fetch_max_wait_ms=GATHER_MS if gather else 500,  # else: aiokafka's defaults
            title=f"{name}:{','.join(topics)}", decoder=_the_message,
        )
        _poll_without_sleeping(subscriber)

        @subscriber
        async def on_batch(body: Any) -> None:
            msg: KafkaMessage = body  # what _the_message gave
            raw = msg.raw_message
            records = [InRecord.from_consumer_record(r)
                       for r in (raw if isinstance(raw, tuple | list) else (raw,))]
            try:
                await self._consumers[name].process(records)
            except ShuttingDown:
                await msg.nack()
                return
            except Exception:
                # The consumer retried and dead-lettered what it could; what reaches here is the
                # infrastructure failing under it (a dead-letter publish, say): nothing is
                # committed, the batch comes again after the runtime's reconnect backoff.
                self._failures[name] = self._failures.get(name, 0) + 1
                wait = RECONNECT.backoff(self._failures[name])
                log.exception("batch could not be handled; it will be redelivered", consumer=name,
                              attempt=self._failures[name], retry_in=wait)
                await asyncio.sleep(wait)
                await msg.nack()
                return
            self._failures.pop(name, None)
            await commit(msg, records)

        del on_batch

    def prune(self, name: str, sql: str, days: int) -> None:
        """Have the outbox's housekeeping worker run ``sql`` hourly: a named statement deleting
        this service's bookkeeping rows older than ``days`` (its ``$1``): nothing is kept past its
        purpose."""
        self._prunes.append(Prune(name, sql, days))

    def background(self, loop: BackgroundLoop) -> None:
        """Run ``loop(service, stopping)`` while the service runs (timers, schedulers)."""
        self._loops.append(loop)

    async def start(self) -> None:
        """Topics, pool, migrations, producer, relay and background loops (the relay's
        workers among them); then consumers start."""
        topics = sorted({t for _, t in self._subscriptions})
        await _retry_transient(lambda: require_topics(self.settings, self.principal, topics), "Kafka")
        self._pool = await _retry_transient(lambda: db.create_pool(self.settings, self.name),
                                            "PostgreSQL")
        folders = {"runtime": RUNTIME_MIGRATIONS}
        if self.migrations is not None:
            folders[self.name] = self.migrations
        applied = await db.migrate(self._pool, self.name, folders)
        if applied:
            log.info("migrations applied", service=self.name, applied=applied)
        await _retry_transient(self.producer.start, "Kafka")
        self._relay = OutboxRelay(self._pool, self.producer, self.name,
                                  batch=self.settings.outbox_batch, dead_letters=self.dead_letters,
                                  prunes=self._prunes)
        for make in self._factories:
            make()
        for loop in self._loops:
            self._tasks.append(asyncio.create_task(loop(self, self.stopping)))
        self.ready = True
        log.info("service started", service=self.name)

    async def observe(self) -> None:
        """Refresh gauges that are read, not counted: the outbox backlog at every scrape, the
        consumer lag at most every ``COMMANDE_LAG_REFRESH_SECONDS`` (it takes Kafka admin requests;
        a scraper, or anyone reaching the admin port, must not turn into load on the broker)."""
        with contextlib.suppress(*db.DB_UNAVAILABLE):
            METRICS.outbox_backlog.labels(self.name).set(await self.relay.backlog())
        now = asyncio.get_running_loop().time()
        if now - self._lag_read_at < self.settings.lag_refresh_seconds:
            return
        self._lag_read_at = now
        by_group: dict[str, list[str]] = {}
        for group, topic in self._subscriptions:
            by_group.setdefault(group, []).append(topic)
        for group, topics in by_group.items():  # one admin round per group, not per topic
            with contextlib.suppress(TransientError):
                lags = await self._lag.read(group, topics)
                for (tname, partition), behind in lags.items():
                    METRICS.consumer_lag.labels(group, tname, str(partition)).set(behind)

    async def begin_stop(self) -> None:
        """Stop retry loops and background work before the broker stops consuming."""
        self.ready = False
        self.stopping.set()

    async def stop(self) -> None:
        """After consumers stopped: finish background loops, flush the outbox, close."""
        self.stopping.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
        if self._relay is not None:
            with contextlib.suppress(CommandeError, *db.DB_UNAVAILABLE):
                flushed = await self._relay.flush()
                log.info("outbox flushed", service=self.name, published=flushed)
        await self.producer.stop()
        await self._lag.close()
        if self._pool is not None:
            await self._pool.close()
        log.info("service stopped", service=self.name)


T = TypeVar("T")


async def commit(msg: KafkaMessage, records: Sequence[InRecord]) -> None:
    """Commit a handled batch: for each partition it came from, the offset after its last record.

    Only the batch's partitions are named. The consumer's own ``commit()`` (FastStream's
    ``ack``) names every partition assigned to it, and aiokafka encodes and decodes each one in
    Python: notifier's main consumer has 42 (7 topics of 6), one request and one response a
    batch, for the one or two partitions a batch usually comes from. A partition left out has
    returned no record since the last batch's commit, so its committed offset is already its
    position (had that commit failed, its batch comes again after a restart, and the inbox
    drops what was handled).
    """
    # A batch holds each partition's records in offset order: its last one wins.
    offsets = {TopicPartition(rec.topic, rec.partition): rec.offset + 1 for rec in records}
    consumer = cast(AIOKafkaConsumer, msg.consumer)
    await consumer.commit(offsets)


def _poll_without_sleeping(subscriber: Any) -> None:
    """Have FastStream's batch ``subscriber`` wait for records in aiokafka's poll only.

    FastStream's own poll (``get_msg``) asks aiokafka for records with a timeout and, when none
    came, sleeps as long again before it asks once more: a record fetched during that sleep waits
    for its end. With the 50 ms we gave it, a mostly idle consumer (an urgent lane) slept half of
    the time, so an urgent record waited up to 50 ms at each of its hops before it was even
    looked at, and each idle consumer woke 10 times a second. aiokafka's ``getmany`` returns as
    soon as a fetch brings records, so this poll waits there up to the subscriber's own timeout
    (:data:`POLL_MS`) for up to its own ``max_records``, and then asks again at once. Stopping
    cancels the consumer's task, a waiting poll with it."""
    timeout_ms, max_records = subscriber.batch_timeout_ms, subscriber.max_records

    async def get_msg(consumer: AIOKafkaConsumer) -> tuple[Any, ...]:
        fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return tuple(itertools.chain.from_iterable(fetched.values()))

    subscriber.get_msg = get_msg


def _every(_: object) -> bool:
    """Every record of an urgent lane is a copy of a record of its main topic."""
    return True


async def _the_message(msg: KafkaMessage) -> KafkaMessage:
    """Keep FastStream from decoding or validating bodies (and from logging their values): the
    consumer runtime decodes the raw records itself. The handler gets the message as its body,
    not as a ``KafkaMessage`` context parameter, which FastStream's dependency injection resolves
    in a worker thread, a thread hop per batch (py-spy: 1-3% of each service's CPU); FastStream
    refuses a handler parameter annotated with the message class itself, so it is ``Any``."""
    return msg


async def _retry_transient(make: Callable[[], Awaitable[T]], what: str,
                              patience: float = 60.0) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    delay = 0.2
    while True:
        try:
            return await make()
        except TransientError as exc:
            if loop.time() > deadline:
                raise TransientError(f"{what} still unreachable after {patience:.0f}s: {exc}") from exc
            log.warning("waiting for a dependency", what=what, error=str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

