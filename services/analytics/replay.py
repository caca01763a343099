"""Side-effect-free replay: read topics over a time range and fold each event into a store.

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
accepts and refuses, at about half its cost. Given the types its store folds (``types``), a replay
skips the records of other types after checking their headers, without decoding their bodies.
:func:`replay_facts` hands its store only what a fold reads (:class:`~schemas.decoder.Fact`),
with the events analytics folds decoded as their views (:mod:`schemas.views`): the same records
accepted and refused, at a fraction of the cost.

A large range is read by worker processes, a group of partitions each (ADR 0016). Decoding and
folding take one core for as long as the read lasts, and the log reads faster than one core
folds it (``bench/RESULTS.md``). A key's records share its partition, so readers of disjoint
partitions fold disjoint keys: each worker folds into its own store, and the stores merge into
the store one reader would have built. Should a key turn up in two workers' stores (a topic whose
partition count grew after keyed records were written), the range is read again in this
process: slower, never wrong.
"""

from __future__ import annotations

import asyncio
import gc
import os
import pickle
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Literal, Protocol, Self, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from schemas.base import Message
from schemas.decoder import Decoder, Fact
from schemas.envelope import Envelope
from schemas.errors import ConfigurationError, ContractError, TransientError
from schemas.topics import SITUATIONS, TOPICS, TopicSpec
from services.runtime import kafka_client
from services.runtime.logging import get_logger
from services.runtime.settings import PROJECT_ROOT, Settings

_log = get_logger("commande.analytics")
PRINCIPAL = "analytics"
"""Replays connect as the read-only analytics principal: de-identified topics, no group."""
DEFAULT_TOPICS: tuple[str, ...] = (SITUATIONS.name,)
"""The live topic the projections read when no ``--topic`` is given."""

PARALLEL_FROM = 100_000
"""Ranges of at least this many records are read by worker processes (one per CPU) unless the
caller says how many. Starting two workers costs ~0.8 s here (a new interpreter, 0.57 s of
imports, a connection, on cores the broker shares), which pays off from about 95,000 records
(bench/RESULTS.md: 50,000 events took 0.76 s in one process, 1.12 s in two workers)."""

T = TypeVar("T")
Item = TypeVar("Item", contravariant=True)
PartOf = TypeVar("PartOf", bound="Part", covariant=True)
P = TypeVar("P", bound="Part")
Decoding = Literal["decode", "fact"]
"""The :class:`~schemas.decoder.Decoder` method a replay decodes with."""
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
    """Of ``events``, those of a type the store does not fold: headers checked, body not decoded."""
    undecodable: Counter[str] = field(default_factory=Counter)
    """Error class name → how many records failed to decode with it."""
    seconds: float = 0.0
    readers: int = 1
    """Processes that read the range: worker processes, or 1 (this one; also when the workers'
    parts shared a key and the range was read again here)."""

    def add(self, other: ReplayReport) -> None:
        """Count what ``other`` read too (its ranges are of the same plan: not added)."""
        self.records += other.records
        self.events += other.events
        self.skipped += other.skipped
        self.undecodable.update(other.undecodable)

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


class Part(Protocol):
    """What a store gives back once its reader is done: merges with the parts of other keys."""

    def isdisjoint(self, other: Self, /) -> bool:
        """Whether none of the keys of ``other`` is in this part too."""

    def update(self, other: Self, /) -> None:
        """Take in ``other`` (of other keys): as if one reader had read both."""


class Store(Protocol[Item, PartOf]):
    """Where a replay folds what it reads (:mod:`services.analytics.stores`).

    Each reader (this process, or each worker process) folds into a store of its own, made by a
    picklable factory (a store's class, or a ``functools.partial`` of one), and gives back its
    part: pickled from a worker to this process, where the parts merge.
    """

    def apply(self, item: Item, /) -> None:
        """Fold one decoded record."""

    def done(self) -> PartOf:
        """The part of everything folded: what the projection needs, and of which keys."""


async def replay(
    settings: Settings,
    sources: Sequence[Source],
    store: Callable[[], Store[Envelope[Message], P]],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
    idle_timeout: float = 30.0,
    types: Collection[str] | None = None,
    workers: int | None = None,
) -> tuple[P, ReplayReport]:
    """Read ``sources`` from ``start`` to ``end`` (or the end offsets now) into new stores.

    Args:
        settings: where Kafka is and how to connect (as the read-only ``analytics`` principal).
        sources: from :func:`resolve`.
        store: makes an empty store (picklable: a store's class, or a ``functools.partial`` of
            one); each reader applies the events it decodes to its own, in partition order
            (interleaved across its partitions).
        start: the first event time to read (``None``: from the beginning of each partition).
        end: read up to the first record at or after this time (``None``: the end offsets
            captured at start).
        progress: optional progress callback.
        idle_timeout: give up when no record arrives for this long while some remain.
        types: the ``ce_type`` values the store folds (``None``: every type); records of other
            types are counted in ``skipped`` and never reach the store.
        workers: processes that read a group of partitions each (``1``: this process only;
            ``None``: one per CPU this process may use when the range holds at least
            :data:`PARALLEL_FROM` records, else 1). Never more than the partitions to read.

    Returns:
        The part of everything read (the readers' parts merged) and what was read.

    Raises:
        ConfigurationError: a topic does not exist.
        TransientError: Kafka is not reachable, stopped answering mid-replay, or a worker died.
    """
    return await _replay(settings, sources, "decode", store, start=start, end=end,
                         progress=progress, idle_timeout=idle_timeout, types=types,
                         workers=workers)


async def replay_facts(
    settings: Settings,
    sources: Sequence[Source],
    store: Callable[[], Store[Fact, P]],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
    idle_timeout: float = 30.0,
    types: Collection[str] | None = None,
    workers: int | None = None,
) -> tuple[P, ReplayReport]:
    """:func:`replay`, applying what a fold reads to the stores: :meth:`Decoder.fact` of each record.

    The same records reach the store, and the same are counted undecodable or skipped; the
    events of types with a view (:data:`schemas.views.VIEWS`) arrive as their views.
    """
    return await _replay(settings, sources, "fact", store, start=start, end=end,
                         progress=progress, idle_timeout=idle_timeout, types=types,
                         workers=workers)


async def _replay(settings: Settings, sources: Sequence[Source], how: Decoding,
                  store: Callable[[], Store[Any, P]], *, start: datetime | None,
                  end: datetime | None, progress: Progress | None, idle_timeout: float,
                  types: Collection[str] | None, workers: int | None) -> tuple[P, ReplayReport]:
    report = ReplayReport()
    began = time.monotonic()
    async with _consumer(settings) as consumer:
        stops = await _plan(consumer, [s.name for s in sources], start, end, report)
        groups = partition_groups(stops, worker_count(workers, report.total))
        merged = None
        if len(groups) > 1:
            merged = _merged(await _in_workers(settings, sources, how, types, groups, store,
                                               progress, report.total, idle_timeout))
            if merged is None:
                _log.warning("replay.read_again_in_one_process",
                             reason="a key was read by two workers (records of one key on "
                             "partitions of two groups)")
        if merged is not None:
            part, counts = merged
            report.add(counts)
            report.readers = len(groups)
        else:
            one = store()
            await _read(consumer, _decoders(sources, how, types), stops, one.apply, report,
                        progress, idle_timeout, report.total)
            part = one.done()
    report.seconds = time.monotonic() - began
    return part, report


def worker_count(asked: int | None, records: int) -> int:
    """How many processes read a range of ``records`` when ``asked`` (``None``: automatic)."""
    if asked is not None:
        if asked < 1:
            raise ConfigurationError(f"a replay needs at least 1 worker, not {asked}")
        return asked
    return len(os.sched_getaffinity(0)) if records >= PARALLEL_FROM else 1


def partition_groups(stops: Mapping[TopicPartition, tuple[int, int]],
                     workers: int) -> list[dict[TopicPartition, tuple[int, int]]]:
    """The partitions holding records, in at most ``workers`` groups of about equal records.

    Largest partition first, each to the group with the fewest records so far (ties: the
    first); empty groups are dropped, so there are never more groups than such partitions.
    """
    groups: list[dict[TopicPartition, tuple[int, int]]] = [{} for _ in range(max(workers, 1))]
    sizes = [0] * len(groups)
    held = sorted(((tp, r) for tp, r in stops.items() if r[0] < r[1]),
                  key=lambda item: (item[1][0] - item[1][1], item[0]))
    for tp, (first, stop) in held:
        smallest = sizes.index(min(sizes))
        groups[smallest][tp] = (first, stop)
        sizes[smallest] += stop - first
    return [group for group in groups if group]


def _merged(reads: Sequence[tuple[P, ReplayReport]]) -> tuple[P, ReplayReport] | None:
    """The workers' parts merged into the first, or ``None`` when two hold the same key."""
    part, counts = reads[0]
    for other, more in reads[1:]:
        if not part.isdisjoint(other):
            return None
        part.update(other)
        counts.add(more)
    return part, counts


async def _in_workers(settings: Settings, sources: Sequence[Source], how: Decoding,
                      types: Collection[str] | None,
                      groups: Sequence[Mapping[TopicPartition, tuple[int, int]]],
                      store: Callable[[], Store[Any, P]], progress: Progress | None, total: int,
                      idle_timeout: float) -> list[tuple[P, ReplayReport]]:
    """Each group read into its own store by a worker process; their parts and reports.

    A worker is ``python -m services.analytics.worker``: a new interpreter that imports only
    what a replay needs (``multiprocessing``'s ``spawn`` would import this program's main module
    again, the whole ``commande`` CLI), reads its :class:`_Job` pickled from its stdin and
    writes pickled frames to its stdout: records read so far, then its part, or its error.
    """
    path = os.environ.get("PYTHONPATH")  # this checkout's code first, as this process runs it
    env = {**os.environ, "PYTHONPATH": f"{PROJECT_ROOT}{os.pathsep}{path}" if path
           else str(PROJECT_ROOT)}
    done = [0] * len(groups)
    workers: list[asyncio.subprocess.Process] = []

    async def follow(index: int, group: Mapping[TopicPartition, tuple[int, int]],
                     ) -> tuple[P, ReplayReport]:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.analytics.worker", env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        workers.append(worker)
        assert worker.stdin is not None
        assert worker.stdout is not None
        worker.stdin.write(pickle.dumps(_Job(settings, tuple(sources), how, types, dict(group),
                                             store, idle_timeout)))
        await worker.stdin.drain()
        worker.stdin.close()
        while True:
            try:
                size = int.from_bytes(await worker.stdout.readexactly(4), "big")
                frame = pickle.loads(await worker.stdout.readexactly(size))  # noqa: S301 (ours)
            except asyncio.IncompleteReadError:
                raise TransientError(
                    f"a replay worker process ended (exit status {await worker.wait()}) before "
                    "sending its part; replay in one process with --workers 1") from None
            if frame[0] == "read":
                done[index] = frame[1]
                if progress is not None:
                    progress(min(sum(done), total), total)
            elif frame[0] == "failed":
                raise frame[1]
            else:
                await worker.wait()
                return frame[1], frame[2]

    following = [asyncio.ensure_future(follow(i, g)) for i, g in enumerate(groups)]
    try:
        return list(await asyncio.gather(*following))
    finally:  # one failed (or we were cancelled): the others stop, and their workers with them
        for task in following:
            task.cancel()
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        await asyncio.gather(*following, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class _Job:
    """What a worker process reads: its partitions' ranges, and how to read and fold them."""

    settings: Settings
    sources: tuple[Source, ...]
    how: Decoding
    types: Collection[str] | None
    stops: dict[TopicPartition, tuple[int, int]]
    store: Callable[[], Store[Any, Any]]
    idle_timeout: float


def serve(jobs: BinaryIO, frames: BinaryIO) -> None:
    """A worker process: read one :class:`_Job` from ``jobs``, write frames to ``frames``."""

    def send(*frame: object) -> None:
        data = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
        frames.write(len(data).to_bytes(4, "big") + data)
        frames.flush()

    job: _Job = pickle.load(jobs)  # noqa: S301 (written by the replay that started us)

    async def read() -> tuple[object, ReplayReport]:
        mine, report = job.store(), ReplayReport()
        async with _consumer(job.settings) as consumer:
            await _read(consumer, _decoders(job.sources, job.how, job.types), job.stops,
                        mine.apply, report, lambda records, _: send("read", records),
                        job.idle_timeout, sum(b - a for a, b in job.stops.values()))
        return mine.done(), report

    try:
        part, report = asyncio.run(read())
    except Exception as exc:  # every error goes to the replay that waits for it
        try:
            send("failed", exc)
        except (pickle.PicklingError, TypeError, AttributeError):
            send("failed", TransientError(f"a replay worker failed: {exc!r}"))
        raise SystemExit(1) from None
    send("done", part, report)


def _decoders(sources: Sequence[Source], how: Decoding,
              types: Collection[str] | None) -> dict[str, Decode[Any]]:
    """Per topic, :meth:`Decoder.decode` or :meth:`Decoder.fact` of its contract's decoder."""
    return {s.name: getattr(Decoder(s.spec.name, types), how) for s in sources}


@asynccontextmanager
async def _consumer(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer of the analytics principal, outside any group; Kafka's errors as ours."""
    consumer = kafka_client.consumer(
        settings, PRINCIPAL, group_id=None, enable_auto_commit=False,
        client_id=f"commande-analytics-replay-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", isolation_level="read_committed",
        max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024,
        request_timeout_ms=30000,
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        raise TransientError(f"Kafka at {settings.kafka_bootstrap} is not reachable: {exc}") from exc
    try:
        yield consumer
    except KafkaError as exc:
        raise TransientError(f"replay from Kafka failed: {exc}") from exc
    finally:
        await consumer.stop()


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


async def _read(consumer: AIOKafkaConsumer, decoders: Mapping[str, Decode[T]],
                stops: Mapping[TopicPartition, tuple[int, int]], sink: Callable[[T], None],
                report: ReplayReport, progress: Progress | None, idle_timeout: float,
                total: int) -> None:
    """Read each partition of ``stops`` over its range into ``sink``; ``total`` for progress."""
    remaining = {tp for tp, (first, stop) in stops.items() if first < stop}
    consumer.assign(list(remaining))
    for tp in remaining:
        consumer.seek(tp, stops[tp][0])
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
                decoders: Mapping[str, Decode[T]], stops: Mapping[TopicPartition, tuple[int, int]],
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
