"""Side-effect-free replay: read topics over a time range and hand each event to a sink.

What makes it safe to run beside live processing:

* its own partition assignment (``assign()``), ``group_id=None``, auto-commit off: no consumer
  group is joined, no offset is ever committed, no live group's rebalance is triggered;
* no producer anywhere in this module: nothing can be written to a topic;
* only unrestricted registry topics (or copies of them under a prefix, for tests and benchmarks):
  a topic whose registry entry is ``restricted`` (identity) is refused before connecting.

The range is fixed at start: from the offsets for ``start`` (``offsets_for_times``, after checking
that every partition exists: aiokafka can wait forever on a missing one) up to the end offsets
captured at start, or the offsets for ``end``. Records that do not decode are counted per error
type and skipped; they never stop a replay.

Records are decoded by :class:`schemas.decoder.Decoder`: what :func:`schemas.envelope.from_record`
accepts and refuses, at about half its cost. Given the types its sink folds (``types``), a replay
skips the records of other types after checking their headers, without decoding their bodies.
:func:`replay_facts` hands its sink only what a fold reads (:class:`~schemas.decoder.Fact`), with
the events analytics folds decoded as their views (:mod:`schemas.views`): the same records
accepted and refused, at a fraction of the cost.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from schemas.base import Message
from schemas.decoder import Decoder, Fact
from schemas.envelope import Envelope
from schemas.errors import ConfigurationError, ContractError, TransientError
from schemas.topics import SITUATIONS, TOPICS, TopicSpec
from services.runtime import kafka_client
from services.runtime.settings import Settings

PRINCIPAL = "analytics"
"""Replays connect as the read-only analytics principal: de-identified topics, no group."""
DEFAULT_TOPICS: tuple[str, ...] = (SITUATIONS.name,)
"""The live topic the projections read when no ``--topic`` is given."""

T = TypeVar("T")
Sink = Callable[[Envelope[Message]], None]
FactSink = Callable[[Fact], None]
Decode = Callable[[Iterable[tuple[str, bytes | None]], bytes | None], T | None]
Progress = Callable[[int, int], None]
"""Called as ``progress(records_read, records_total)`` after each fetched batch."""


@dataclass(frozen=True, slots=True)
class Source:
    """A topic to read and the registry topic whose contract its records follow."""

    name: str
    spec: TopicSpec


@dataclass(slots=True)
class ReplayReport:
    """What a replay read: the offsets of each partition, counts, and how long it took."""

    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    """``topic:partition`` → ``(first offset, end offset)`` read (end exclusive)."""
    records: int = 0
    events: int = 0
    """Records that passed the contract checks (``skipped`` ones: their headers)."""
    skipped: int = 0
    """Of ``events``, those of a type the sink does not fold: headers checked, body not decoded."""
    undecodable: Counter[str] = field(default_factory=Counter)
    """Error class name → how many records failed to decode with it."""
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Records in the range."""
        return sum(end - start for start, end in self.ranges.values())


def resolve(names: Sequence[str]) -> list[Source]:
    """The sources for topic names: a registry name, or a prefixed copy (``<prefix><name>``).

    Raises:
        ConfigurationError: a name is not (a copy of) a registry topic, or its topic is restricted.
    """
    sources: list[Source] = []
    for name in names:
        spec = next((s for s in sorted(TOPICS, key=lambda s: -len(s.name))
                     if name == s.name or name.endswith("." + s.name)), None)
        if spec is None:
            known = ", ".join(s.name for s in TOPICS if not s.restricted)
            raise ConfigurationError(
                f"{name!r} is not a commande topic (or a prefixed copy of one); use one of {known}")
        if spec.restricted:
            raise ConfigurationError(
                f"{name!r} carries identity ({spec.name} is restricted): analytics never reads it")
        sources.append(Source(name, spec))
    return sources


def parse_time(text: str) -> datetime | None:
    """A ``--from``/``--to`` value: ``beginning``, an ISO date or date-time (no offset = UTC)."""
    if text.strip().lower() in {"beginning", "earliest", ""}:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigurationError(
            f"{text!r} is not a time: use 2026-01-31, 2026-01-31T09:00:00-05:00 or 'beginning'"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def replay(
    settings: Settings,
    sources: Sequence[Source],
    sink: Sink,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
    idle_timeout: float = 30.0,
    types: Collection[str] | None = None,
) -> ReplayReport:
    """Read ``sources`` from ``start`` to ``end`` (or the end offsets now) into ``sink``.

    Args:
        settings: where Kafka is and how to connect (as the read-only ``analytics`` principal).
        sources: from :func:`resolve`.
        sink: receives every decoded event, in partition order (interleaved across partitions).
        start: the first event time to read (``None``: from the beginning of each partition).
        end: read up to the first record at or after this time (``None``: the end offsets
            captured at start).
        progress: optional progress callback.
        idle_timeout: give up when no record arrives for this long while some remain.
        types: the ``ce_type`` values ``sink`` folds (``None``: every type); records of other
            types are counted in ``skipped`` and never reach the sink.

    Raises:
        ConfigurationError: a topic does not exist.
        TransientError: Kafka is not reachable, or stopped answering mid-replay.
    """
    decoders = {s.name: Decoder(s.spec.name, types).decode for s in sources}
    return await _replay(settings, decoders, sink, start=start, end=end, progress=progress,
                         idle_timeout=idle_timeout)


async def replay_facts(
    settings: Settings,
    sources: Sequence[Source],
    sink: FactSink,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
    idle_timeout: float = 30.0,
    types: Collection[str] | None = None,
) -> ReplayReport:
    """:func:`replay`, handing ``sink`` what a fold reads: :meth:`Decoder.fact` of each record.

    The same records reach the sink, and the same are counted undecodable or skipped; the
    events of types with a view (:data:`schemas.views.VIEWS`) arrive as their views.
    """
    decoders = {s.name: Decoder(s.spec.name, types).fact for s in sources}
    return await _replay(settings, decoders, sink, start=start, end=end, progress=progress,
                         idle_timeout=idle_timeout)


async def _replay(settings: Settings, decoders: Mapping[str, Decode[T]], sink: Callable[[T], None],
                  *, start: datetime | None, end: datetime | None, progress: Progress | None,
                  idle_timeout: float) -> ReplayReport:
    consumer = kafka_client.consumer(
        settings, PRINCIPAL, group_id=None, enable_auto_commit=False,
        client_id=f"commande-analytics-replay-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", isolation_level="read_committed",
        max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024,
        request_timeout_ms=30000,
    )
    report = ReplayReport()
    began = time.monotonic()
    try:
        await consumer.start()
    except KafkaError as exc:
        raise TransientError(f"Kafka at {settings.kafka_bootstrap} is not reachable: {exc}") from exc
    try:
        stops = await _plan(consumer, list(decoders), start, end, report)
        active = [tp for tp, (first, stop) in stops.items() if first < stop]
        consumer.assign(active)
        for tp in active:
            consumer.seek(tp, stops[tp][0])
        await _drain(consumer, decoders, stops, set(active), sink, report, progress, idle_timeout)
    except KafkaError as exc:
        raise TransientError(f"replay from Kafka failed: {exc}") from exc
    finally:
        await consumer.stop()
    report.seconds = time.monotonic() - began
    return report


async def _plan(consumer: AIOKafkaConsumer, names: list[str], start: datetime | None,
                end: datetime | None, report: ReplayReport) -> dict[TopicPartition, tuple[int, int]]:
    # A full metadata request (aiokafka has no public call that returns partitions for topics it
    # does not track yet): a missing topic must fail here, before offsets_for_times can hang.
    cluster = await consumer._client.fetch_all_metadata()
    tps: list[TopicPartition] = []
    for name in names:
        parts = cluster.partitions_for_topic(name)
        if not parts:
            raise ConfigurationError(f"topic {name!r} does not exist on this broker")
        tps.extend(TopicPartition(name, p) for p in sorted(parts))
    if not tps:
        return {}
    consumer.assign(tps)  # the client now tracks these topics' leaders for the offset requests
    firsts = await consumer.beginning_offsets(tps)
    ends = await consumer.end_offsets(tps)
    if start is not None:
        found = await consumer.offsets_for_times({tp: _ms(start) for tp in tps})
        firsts = {tp: (found[tp].offset if found[tp] is not None else ends[tp]) for tp in tps}
    if end is not None:
        found = await consumer.offsets_for_times({tp: _ms(end) for tp in tps})
        ends = {tp: min(ends[tp], found[tp].offset) if found[tp] is not None else ends[tp]
                for tp in tps}
    plan = {tp: (min(firsts[tp], ends[tp]), ends[tp]) for tp in tps}
    for tp, (first, stop) in plan.items():
        report.ranges[f"{tp.topic}:{tp.partition}"] = (first, stop)
    return plan


async def _drain(consumer: AIOKafkaConsumer, decoders: Mapping[str, Decode[T]],
                 stops: dict[TopicPartition, tuple[int, int]], remaining: set[TopicPartition],
                 sink: Callable[[T], None], report: ReplayReport, progress: Progress | None,
                 idle_timeout: float) -> None:
    total = report.total
    last_record = time.monotonic()
    with _young_collections_only():
        while remaining:
            if _fold_batch(await consumer.getmany(timeout_ms=500, max_records=20000),
                           decoders, stops, sink, report):
                last_record = time.monotonic()
            gc.collect(0)  # the batch is gone: what is left of it is what the folds keep
            for tp in list(remaining):
                if await consumer.position(tp) >= stops[tp][1]:
                    remaining.discard(tp)
                    consumer.pause(tp)
            if progress is not None:
                progress(min(report.records, total), total)
            if remaining and time.monotonic() - last_record > idle_timeout:
                raise TransientError(
                    f"no record for {idle_timeout:.0f}s with {len(remaining)} partitions unfinished")


def _fold_batch(batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]],
                decoders: Mapping[str, Decode[T]], stops: dict[TopicPartition, tuple[int, int]],
                sink: Callable[[T], None], report: ReplayReport) -> bool:
    """Decode one fetched batch into ``sink``; whether it held any record."""
    for tp, recs in batch.items():
        stop = stops[tp][1]
        decode = decoders[tp.topic]
        records = events = skipped = 0
        for rec in recs:
            if rec.offset >= stop:
                break
            records += 1
            try:
                decoded = decode(rec.headers, rec.value)
            except (ContractError, ValueError, TypeError) as exc:
                report.undecodable[type(exc).__name__] += 1
                continue
            events += 1
            if decoded is None:
                skipped += 1
            else:
                sink(decoded)
        report.records += records
        report.events += events
        report.skipped += skipped
    return bool(batch)


@contextmanager
def _young_collections_only() -> Iterator[None]:
    """The cyclic GC's automatic collections paused; the caller collects the young generation.

    A replay keeps every situation's state and holds each fetched batch (tens of thousands of
    records) until it is folded: automatic collections promote those records to the old
    generations, and then walk every object the process holds, again and again, which cost
    a replay about as much CPU as everything else it does. The young generation (the garbage
    cycles of the Kafka client included) is collected after each batch instead; the previous
    setting is restored at the end.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
