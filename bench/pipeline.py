"""Benchmark: an offered load of referrals through intake, convening and notifier as processes.

Run: ``.venv/bin/python -m bench.pipeline [--rate N] [--urgent U] [--seconds T] [--runs R]
[--record] [--profile SERVICE ...]`` with the local stack up (``commande stack up``: Kafka,
PostgreSQL and the SMTP sink, whose Maildir the notifier's e-mails go to).

The three services run as OS processes exactly as deployed (``commande run <service>``, through
``deploy.local.services.ServiceProcess``), in their real consumer groups. Their clock is the system
clock plus an offset (``COMMANDE_CLOCK_OFFSET_FILE``) that the bench sets far ahead before each run
(a random number of weeks, 20 to 2,000 years, where no earlier bench's meetings are, then
:data:`RUN_MOVE` more per run), so every run places its situations on an empty calendar: on a stack
that keeps its database, the meetings ahead of the real date fill up after a few runs
(``MAX_OVERFLOW`` meetings of 100 per table) and placement then dead-letters instead of scheduling.
Moving the clock makes the earlier runs' situations years old: their SLA timers fall due, and the
notices they cause (retention is not among them: the bench's intake keeps identified data for
:data:`RETENTION_DAYS`, longer than any clock move, so moves purge nothing and mail no purge
notices, which took notifier's sink 15 minutes after one 15,000-referral backfill). The bench waits
until the services have done all that (``durable_timers`` and ``notices`` due at their clock, then
the consumers caught up) before each run, so a run measures its own referrals, not the catching up.
Kafka record timestamps stay real time; ``delivered_at`` is taken back by the offset. Each run:

1. **baseline** (same offered load, same records): a raw aiokafka relay chain of two processes,
   ``scratch.in -> scratch.mid -> scratch.out``, each consuming in its own group and producing one
   record per record with the runtime's producer settings (two hops, as intake then convening);
   latency per record = its ``scratch.out`` record timestamp - its produce timestamp;
2. **pipeline**: N routine referrals/s (``milton-individual.json`` shape) and U urgent ones/s
   (``oakville-family-urgent.json`` shape) for T seconds, evenly spaced, sealed as ``commande
   submit`` does, produced to ``commande.referrals.v1``. The bench reads the referral-status,
   situations, meetings and notices topics from their ends (pinned before the first produce) and
   waits until every referral's situation is scheduled and every urgent situation's first e-mail
   is delivered (or a deadline passes; what is missing is reported).

Figures (each run, then medians over the runs):

* sustained throughput: situations scheduled / (last ``SituationScheduled`` - first produce),
  and the offered rate actually produced;
* latency submission -> ``SituationScheduled``: the ``SituationScheduled`` record timestamp
  (CreateTime, set by convening's outbox relay when it publishes) - the referral's produce
  timestamp; p50/p95/p99, routine and urgent apart;
* urgent, submission -> first delivered e-mail about it: the earliest ``delivered_at`` of a
  ``NoticeDelivered`` (channel e-mail, the time notifier's SMTP client got the sink's 250) whose
  cause is an ``AgendaIssued`` listing the situation (its invitation, or the agenda update of a
  meeting it joined) or the chair's ``UrgentSituationAdded`` about it - the produce timestamp.
  ``delivered_at`` is notifier's clock minus the bench's offset (the system clock of this
  machine), not the Maildir's file time;
* consumer lag of ``intake``, ``convening`` and ``notifier`` sampled every second (max and a
  series), peak RSS per service (``VmHWM`` of ``/proc/<pid>/status``) and CPU seconds per process;
* ratios to the baseline of the same run;
* CPU milliseconds per referral of each service's process, and per record of one hop of the
  baseline's chain (its two processes over the baseline, halved): what aiokafka alone spends to
  consume, produce and commit a record, the floor under each hop of the services;
* each service's event-loop lag (``commande_event_loop_lag_seconds`` from its ``/metrics``, before
  and after the run): how long other work held the loop its urgent lane shares;
* convening's placement-lock waits (``commande_placement_lock_wait_seconds``, the same way), for
  batches with an urgent situation and for the rest: how long placing a batch waited for its
  tables' locks, held by another batch of the same tables until it commits;
* the statements PostgreSQL spent most time executing over the run (``pg_stat_statements``,
  which the local stack preloads; a stack started before it did says so and shows none).

``--backfill N`` then runs a partner's migration per run: N routine referrals produced at once while
urgent ones keep arriving (``--backfill-urgent``, 5/s) over the expected drain (N / the steady
throughput just measured); it reports the drain rate against that steady throughput (the backlog's
situations over first produce to the last of them scheduled) and the latencies of the urgent
referrals produced before that last one (those after it met no backlog). Both cycle over Halton's
towns, so the backlog is on every district table; ``--backfill-table district_1`` puts the backlog
on that table only (a partner migrating one table's referrals) and the urgent ones on the other
tables: what an urgent situation elsewhere waits for (convening's placement lock is per table).

The bench's own clients (the partner's producer, the watcher, the lag sampler, the relay chain)
connect as the broker's super user (``bench.common.HARNESS``); the services as their own principals.

``--record`` appends a section to ``bench/RESULTS.md`` (machine, command, figures).
``--profile intake`` (or ``convening``, ``notifier``; repeatable) runs that service under cProfile
timed by its CPU clock (:mod:`bench.cpu_profile`: a wall-clock profile on this busy machine
charges calls for waiting to be scheduled) and prints the top of its profile; profiled runs are
slower and never recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import pstats
import random
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from bench.common import (
    HARNESS,
    PRODUCER_SETTINGS,
    TOWNS,
    CpuMeter,
    Referrals,
    cpu_per_item,
    cpu_seconds,
    cpu_text,
    development_stack,
    memory_kb,
    percentile,
    record,
    start_raw_loop,
)
from deploy.local.services import ServiceProcess
from schemas.errors import ConfigurationError
from schemas.meetings import AgendaIssued, UrgentSituationAdded
from schemas.notices import NoticeDelivered
from schemas.reference import reference
from schemas.referrals import ReferralAccepted, ReferralRejected
from schemas.situations import SituationOpened, SituationScheduled
from schemas.topics import (
    DISCLOSURES,
    MEETINGS,
    MEETINGS_URGENT,
    NOTICES,
    REFERRAL_STATUS,
    REFERRALS,
    REFERRALS_URGENT,
    SITUATIONS,
    SITUATIONS_URGENT,
    TABLE_ACTIONS,
    TopicSpec,
)
from services.convening.placement import MAX_OVERFLOW
from services.convening.settings import ConveningSettings
from services.runtime import kafka_client
from services.runtime.kafka import OutRecord, partitions_of
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.support.kafka import wait_for

SERVICES = ("intake", "convening", "notifier")
GROUPS: dict[str, tuple[str, ...]] = {
    "intake": (REFERRALS.name,),
    "intake-urgent": (REFERRALS_URGENT.name,),
    "intake-disclosures": (SITUATIONS.name,),
    "convening": (SITUATIONS.name,),
    "convening-urgent": (SITUATIONS_URGENT.name,),
    "convening-commands": (TABLE_ACTIONS.name,),
    "notifier": (MEETINGS.name, SITUATIONS.name, DISCLOSURES.name, REFERRAL_STATUS.name,
                 TABLE_ACTIONS.name),
    "notifier-urgent": (MEETINGS_URGENT.name,),
}
"""The services' consumer groups and their topics (lag is read for these)."""
WATCHED = (REFERRAL_STATUS.name, SITUATIONS.name, MEETINGS.name, NOTICES.name)
ACCEPTED, REJECTED = ReferralAccepted.ce_type.encode(), ReferralRejected.ce_type.encode()
OPENED, SCHEDULED = SituationOpened.ce_type.encode(), SituationScheduled.ce_type.encode()
AGENDA, DELIVERED = AgendaIssued.ce_type.encode(), NoticeDelivered.ce_type.encode()
URGENT_ADDED = UrgentSituationAdded.ce_type.encode()
TARGET_ROUTINE_P99_MS = 500.0
TARGET_URGENT_P99_MS = 1000.0
TARGET_RSS_MB = 200.0
RETENTION_DAYS = 1_000_000
"""Days the bench's intake keeps identified data: 2,738 years, more than the clock ever moves
(2,000 years at most, then two a run), so no clock move purges, not even the situations of an
earlier bench on the same database."""
SERVICE_ENV = {"COMMANDE_INTAKE_INACTIVE_RETENTION_DAYS": str(RETENTION_DAYS),
               "COMMANDE_INTAKE_RETENTION_DAYS": str(RETENTION_DAYS)}


# -- offering the load -------------------------------------------------------------------------


def plan(routine: Sequence[OutRecord], urgent: Sequence[OutRecord], seconds: float
         ) -> list[tuple[float, OutRecord]]:
    """When to produce each record (seconds from the start): each kind evenly spaced over
    ``seconds``, merged in time order."""
    timed = [(seconds * i / len(routine), r) for i, r in enumerate(routine)]
    timed += [(seconds * (i + 0.5) / len(urgent), r) for i, r in enumerate(urgent)]
    return sorted(timed, key=lambda t: t[0])


def plan_backfill(backlog: Sequence[OutRecord], urgent: Sequence[OutRecord], seconds: float
                  ) -> list[tuple[float, OutRecord]]:
    """A partner's migration: the whole ``backlog`` at once, then the urgent ones evenly spaced
    over ``seconds`` (the expected drain), each behind whatever of the backlog is still there."""
    timed = [(0.0, r) for r in backlog]
    timed += [(seconds * (i + 0.5) / len(urgent), r) for i, r in enumerate(urgent)]
    return sorted(timed, key=lambda t: t[0])


async def offer(producer: AIOKafkaProducer, topic: str | None,
                timed: Sequence[tuple[float, OutRecord]]) -> dict[bytes, int]:
    """Produce each record at its planned instant, to ``topic`` or else its own (an urgent
    referral's is the urgent lane); ``{key: produce timestamp ms}``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    pending = []
    i = 0
    while i < len(timed):
        now = loop.time() - start
        while i < len(timed) and timed[i][0] <= now:
            rec = timed[i][1]
            pending.append((rec.key, await producer.send(
                topic or rec.topic, rec.value, key=rec.key, headers=list(rec.headers))))
            i += 1
        if i < len(timed):
            await asyncio.sleep(max(0.0, timed[i][0] - (loop.time() - start)))
    metas = await asyncio.gather(*(f for _, f in pending))
    return {key: meta.timestamp for (key, _), meta in zip(pending, metas, strict=True)
            if key is not None}


# -- watching the outcome ----------------------------------------------------------------------


@dataclass
class Seen:
    """What the watcher read of one run (timestamps in ms since the epoch)."""

    accepted: dict[bytes, int] = field(default_factory=dict)
    rejected: set[bytes] = field(default_factory=set)
    situation_of: dict[str, str] = field(default_factory=dict)
    """referral ref -> situation id (from intake's ``SituationOpened``)."""
    scheduled: dict[str, int] = field(default_factory=dict)
    """situation id -> record timestamp of its first ``SituationScheduled``."""
    agendas: dict[str, list[str]] = field(default_factory=dict)
    """``AgendaIssued`` ce_id -> the situation ids on it; ``UrgentSituationAdded`` ce_id -> its
    situation (the chair's notice)."""
    urgent_notices: int = 0
    """``UrgentSituationAdded`` seen (the chair told of an urgent situation its agenda waits for)."""
    agenda_issues: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    """(ce_id, meeting id, participant, meeting kind, record timestamp) of each ``AgendaIssued``."""
    delivered: list[tuple[str, int]] = field(default_factory=list)
    """(cause ce_id, delivered_at ms) of e-mail ``NoticeDelivered``."""
    echoes: dict[bytes, int] = field(default_factory=dict)
    """Baseline: key -> record timestamp on the chain's last topic."""


class Watcher:
    """Reads topics from ends pinned by :meth:`pin` with its own assignment (no group)."""

    def __init__(self, settings: Settings, topics: Sequence[str], tag: str) -> None:
        self.offset_ms = 0
        """The services' clock offset (``delivered_at`` is on their clock)."""
        self._settings = settings
        self._topics = list(topics)
        self._tag = f"BENCH-{tag}-"
        self._consumer = kafka_client.consumer(
            settings, HARNESS, group_id=None, enable_auto_commit=False,
            client_id=f"bench-pipeline-watch-{uuid.uuid4().hex[:6]}", max_poll_records=5000,
            fetch_max_wait_ms=50)
        self._tps: list[TopicPartition] = []
        self.seen = Seen()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        admin = kafka_client.admin(self._settings, HARNESS)
        await admin.start()
        try:
            parts = await partitions_of(admin, self._topics)
        finally:
            await admin.close()
        missing = set(self._topics) - set(parts)
        if missing:
            raise SystemExit(f"topics {sorted(missing)} do not exist: is the stack up?")
        await self._consumer.start()
        self._tps = [TopicPartition(t, p) for t, ps in parts.items() for p in ps]
        self._consumer.assign(self._tps)

    async def pin(self) -> None:
        """Forget what was seen; read from the partitions' ends as they are now."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.seek_to_end(*self._tps)
        for tp in self._tps:
            await self._consumer.position(tp)
        self.seen = Seen()
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _read(self) -> None:
        seen = self.seen
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            for tp, recs in batch.items():
                for rec in recs:
                    self._one(seen, tp.topic, rec)

    def _one(self, seen: Seen, topic: str, rec: object) -> None:
        key: bytes | None = rec.key  # type: ignore[attr-defined]
        value: bytes = rec.value  # type: ignore[attr-defined]
        stamp: int = rec.timestamp  # type: ignore[attr-defined]
        headers = dict(rec.headers)  # type: ignore[attr-defined]
        kind = headers.get("ce_type")
        if topic == REFERRAL_STATUS.name:
            if key is not None and key.decode().partition("/")[2].startswith(self._tag):
                if kind == ACCEPTED:
                    seen.accepted.setdefault(key, stamp)
                elif kind == REJECTED:
                    seen.rejected.add(key)
        elif topic == SITUATIONS.name:
            if kind == OPENED:
                body = json.loads(value)
                if body["referral_ref"].startswith(self._tag):
                    seen.situation_of[body["referral_ref"]] = body["situation_id"]
            elif kind == SCHEDULED:
                seen.scheduled.setdefault(json.loads(value)["situation_id"], stamp)
        elif topic == MEETINGS.name:
            if kind == AGENDA:
                body = json.loads(value)
                seen.agendas[headers["ce_id"].decode()] = [i["situation_id"] for i in body["items"]]
                kind = (body.get("meeting") or {}).get("kind", "")
                seen.agenda_issues.append((headers["ce_id"].decode(), body["meeting_id"],
                                           body["agency_id"], kind, stamp))
            elif kind == URGENT_ADDED:
                body = json.loads(value)
                seen.agendas[headers["ce_id"].decode()] = [body["situation_id"]]
                seen.urgent_notices += 1
        elif topic == NOTICES.name:
            if kind == DELIVERED:
                body = json.loads(value)
                if body["channel"] == "email":
                    at = datetime.fromisoformat(body["delivered_at"]).timestamp() * 1000
                    seen.delivered.append((body["cause_id"], int(at) - self.offset_ms))
        elif key is not None:
            seen.echoes.setdefault(key, stamp)


class LagSampler:
    """Samples the services' consumer lag (records behind, per group) with clients it holds."""

    def __init__(self, settings: Settings) -> None:
        self._admin = kafka_client.admin(settings, HARNESS, request_timeout_ms=5000)
        self._reader = kafka_client.consumer(
            settings, HARNESS, group_id=None, enable_auto_commit=False,
            client_id=f"bench-pipeline-lag-{uuid.uuid4().hex[:6]}")
        self._tps: dict[str, list[TopicPartition]] = {}
        self.samples: list[tuple[float, dict[str, int]]] = []

    async def start(self) -> None:
        await self._admin.start()
        await self._reader.start()
        topics = sorted({t for ts in GROUPS.values() for t in ts})
        parts = await partitions_of(self._admin, topics)
        self._tps = {g: [TopicPartition(t, p) for t in ts for p in parts.get(t, [])]
                     for g, ts in GROUPS.items()}

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self._reader.stop()
        with contextlib.suppress(Exception):
            await self._admin.close()

    async def lag(self) -> dict[str, int]:
        """``{group: records behind}`` now."""
        every = sorted({tp for tps in self._tps.values() for tp in tps})
        ends = await self._reader.end_offsets(every)
        out = {}
        for group, tps in self._tps.items():
            committed = await self._admin.list_consumer_group_offsets(group)
            behind = 0
            for tp in tps:
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else 0
                behind += max(0, ends[tp] - done)
            out[group] = behind
        return out

    async def sample(self, stop: asyncio.Event, every: float = 1.0) -> None:
        """Append ``(seconds since start, lag)`` every ``every`` seconds until ``stop``."""
        self.samples = []
        began = time.monotonic()
        while not stop.is_set():
            self.samples.append((time.monotonic() - began, await self.lag()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def caught_up(self, patience: float = 300.0) -> float:
        """Wait until no group lags; returns how long that took."""
        began = time.monotonic()
        while True:
            behind = await self.lag()
            if not any(behind.values()):
                return time.monotonic() - began
            if time.monotonic() - began > patience:
                raise SystemExit(f"the services are still behind after {patience:.0f}s: {behind}")
            await asyncio.sleep(0.5)


# -- one run -----------------------------------------------------------------------------------


@dataclass
class Run:
    """The figures of one run."""

    offered: int
    urgent: int
    produced_rate: float
    scheduled: int
    throughput: float
    routine_ms: list[float]
    urgent_sched_ms: list[float]
    urgent_mail_ms: list[float]
    rejected: int
    lag: list[tuple[float, dict[str, int]]]
    cpu: dict[str, float]
    base_rate: float
    base_ms: list[float]
    base_cpu_ms: float = 0.0
    """CPU ms per record of one hop of the raw chain (its two processes over the baseline, per
    record, halved): what aiokafka alone costs to consume, produce and commit a record, the
    floor of each of the services' hops."""
    agendas: int = 0
    """``AgendaIssued`` of the run's meetings (every participant's first agenda and updates)."""
    agenda_mails: int = 0
    """E-mails delivered for those agendas."""
    agendas_per_minute: int = 0
    """The most agendas one participant got for one ad-hoc meeting within any 60 s."""
    urgent_notices: int = 0
    """The chair's ``UrgentSituationAdded`` notices (not agendas)."""
    loop_lag: dict[str, Waits] = field(default_factory=dict)
    """Each service's event-loop lag over the run."""
    placement_wait: dict[str, Waits] = field(default_factory=dict)
    """Convening's placement-lock waits over the run, ``urgent`` and ``routine`` batches."""
    top_sql: list[str] = field(default_factory=list)
    """The statements PostgreSQL spent most time executing over the run, one line each."""
    routine_rate: float = 0.0
    """Routine situations scheduled / (the last one scheduled - the first routine produce): in a
    backfill, how fast the backlog drained (``throughput`` also counts the urgent referrals,
    produced over the drain the steady throughput predicts, so it cannot exceed that)."""
    during_urgent: int = 0
    """Urgent referrals produced before the last routine situation was scheduled (in a
    backfill: while the backlog was draining)."""
    during_sched_ms: list[float] = field(default_factory=list)
    """``urgent_sched_ms`` of those."""
    during_mail_ms: list[float] = field(default_factory=list)
    """``urgent_mail_ms`` of those."""

    def p(self, what: str, pct: float) -> float:
        values: list[float] = getattr(self, what)
        return percentile(values, pct)

    def max_lag(self, group: str) -> int:
        return max((s[1].get(group, 0) for s in self.lag), default=0)


async def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    """Poll ``check()`` every 0.2 s; False after ``timeout`` (the bench reports what is missing
    rather than failing, unlike the tests' ``wait_for``)."""
    async def poll() -> bool:
        return check()

    try:
        return await wait_for(poll, timeout=timeout)
    except TimeoutError:
        return False


def first_mail(seen: Seen) -> dict[str, int]:
    """situation id -> delivered_at (ms) of the first e-mail about an agenda listing it."""
    by_cause: dict[str, int] = {}
    for cause, at in seen.delivered:
        by_cause[cause] = min(at, by_cause.get(cause, at))
    out: dict[str, int] = {}
    for cause, at in by_cause.items():
        for sid in seen.agendas.get(cause, ()):
            out[sid] = min(at, out.get(sid, at))
    return out


async def baseline(producer: AIOKafkaProducer, watcher: Watcher, topic: str,
                   timed: Sequence[tuple[float, OutRecord]], seconds: float,
                   hops: Sequence[int]) -> tuple[float, list[float], float]:
    """The relay chain (the processes ``hops``) on the same load: (records/s out of the chain,
    latencies ms, CPU ms per record per hop)."""
    await watcher.pin()
    cpu_before = sum(cpu_seconds(pid) for pid in hops)
    began = time.time()
    sent = await offer(producer, topic, timed)
    seen = watcher.seen
    if not await wait_until(lambda: len(seen.echoes) >= len(sent), seconds * 4 + 60):
        print(f"baseline: only {len(seen.echoes)} of {len(sent)} records came through",
              file=sys.stderr)
    cpu = sum(cpu_seconds(pid) for pid in hops) - cpu_before
    last = max(seen.echoes.values(), default=int(began * 1000)) / 1000
    latencies = [float(seen.echoes[k] - sent[k]) for k in sent if k in seen.echoes]
    per_hop = 1000 * cpu / len(sent) / len(hops) if sent and hops else 0.0
    return len(seen.echoes) / (last - began), latencies, per_hop


LOOP_LAG = "commande_event_loop_lag_seconds"
PLACEMENT_WAIT = "commande_placement_lock_wait_seconds"


@dataclass(frozen=True, slots=True)
class Waits:
    """A wait histogram's observations over an interval: a service's event-loop lag (its probe,
    :mod:`services.runtime.loop_lag`) or convening's placement-lock waits."""

    count: int
    mean_s: float
    p99_s: float
    """The upper bound of the bucket that holds the 99th percentile."""
    late: float
    """The share of observations over 100 ms."""

    def text(self) -> str:
        return f"p99 <= {self.p99_s:g} s, {self.late:.0%} over 100 ms"


def loop_lag_text(lags: dict[str, Waits]) -> str:
    """``intake p99 <= 0.25 s, 2% over 100 ms, convening ...``: each service's loop lag."""
    return ", ".join(f"{which} {lag.text()}" for which, lag in lags.items())


def placement_wait_text(waits: dict[str, Waits]) -> str:
    """``urgent batches 120, mean 15 ms, p99 <= 0.25 s; routine ...``: convening's lock waits."""
    return "; ".join(f"{batch} batches {w.count:,}, mean {w.mean_s * 1000:,.0f} ms, "
                     f"p99 <= {w.p99_s:g} s" for batch, w in sorted(waits.items())) or "none"


Histogram = tuple[dict[float, float], float]
"""A histogram's cumulative bucket counts by upper bound, and the sum of its observations."""


def _histograms(admin_port: int) -> dict[str, Histogram]:
    """The wait histograms at a service's ``/metrics``: ``loop`` (its loop lag) and, in
    convening, ``urgent`` and ``routine`` (placement-lock waits by batch)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, Histogram] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in (LOOP_LAG, PLACEMENT_WAIT):
            continue
        buckets: dict[str, dict[float, float]] = {}
        sums: dict[str, float] = {}
        for sample in family.samples:
            key = "loop" if family.name == LOOP_LAG else sample.labels.get("batch", "")
            if sample.name == f"{family.name}_bucket":
                buckets.setdefault(key, {})[float(sample.labels["le"])] = sample.value
            elif sample.name == f"{family.name}_sum":
                sums[key] = sample.value
        out.update({key: (b, sums.get(key, 0.0)) for key, b in buckets.items()})
    return out


def _waits(before: Histogram | None, after: Histogram) -> Waits | None:
    """What was observed between two reads of one histogram (None: nothing)."""
    old, old_sum = before or ({}, 0.0)
    counts = {le: n - old.get(le, 0.0) for le, n in after[0].items()}
    total = counts.get(float("inf"), 0.0)
    if not total:
        return None
    p99 = min(le for le, n in counts.items() if n >= 0.99 * total)
    return Waits(int(total), (after[1] - old_sum) / total, p99,
                 1 - counts.get(0.1, total) / total)


class WaitsMeter:
    """The services' wait histograms over an interval: read before and after."""

    def __init__(self, admin_ports: dict[str, int]) -> None:
        self._ports = admin_ports
        self._before: dict[str, dict[str, Histogram]] = {}

    async def start(self) -> None:
        self._before = await self._read()

    async def stop(self) -> tuple[dict[str, Waits], dict[str, Waits]]:
        """Each service's loop lag, and convening's placement waits by batch."""
        after = await self._read()
        loop: dict[str, Waits] = {}
        placement: dict[str, Waits] = {}
        for which, histograms in after.items():
            for key, histogram in histograms.items():
                waits = _waits(self._before.get(which, {}).get(key), histogram)
                if waits is None:
                    continue
                if key == "loop":
                    loop[which] = waits
                elif which == "convening":
                    placement[key] = waits
        return loop, placement

    async def _read(self) -> dict[str, dict[str, Histogram]]:
        return {which: await asyncio.to_thread(_histograms, port)
                for which, port in self._ports.items()}


DUE_AT = """
SELECT (SELECT count(*) FROM intake.durable_timers WHERE state = 'pending' AND due_at <= $1)
     + (SELECT count(*) FROM convening.durable_timers WHERE state = 'pending' AND due_at <= $1)
     + (SELECT count(*) FROM notifier.notices WHERE state = 'pending' AND next_attempt_at <= $1)
"""
"""What the services have due at their clock ``$1``: timers, and notices to send."""
CALENDAR_GAPS = """
WITH edges AS (
    SELECT $1::timestamptz AS t
    UNION SELECT starts_at FROM convening.meetings WHERE starts_at BETWEEN $1 AND $2
    UNION SELECT $2::timestamptz
), gaps AS (SELECT t AS after, lead(t) OVER (ORDER BY t) AS before FROM edges)
SELECT after, before FROM gaps WHERE before - after > $3::interval ORDER BY after
"""
"""The stretches between ``$1`` and ``$2`` longer than ``$3`` where no meeting starts."""
WEEK = 7 * 24 * 3600.0
RUN_MOVE = (MAX_OVERFLOW + 10) * WEEK
"""How far the services' clock moves ahead between two runs: past each run's meetings (a weekly
table's overflow reaches at most ``MAX_OVERFLOW`` meetings ahead)."""


async def free_offset(pool: asyncpg.Pool, runs: int) -> float:
    """A random clock offset (20 to 2,000 years ahead, whole weeks) whose calendar no earlier
    bench used, for ``runs`` runs a :data:`RUN_MOVE` apart: regular meetings are the same rows
    for every bench that places on those dates, so meetings an earlier bench filled would push
    this one's situations along, up to placement's limit (``MAX_OVERFLOW``) and beyond. Chosen
    among the calendar's free stretches, so a stack that hundreds of benches used still finds
    one while there is one; a :class:`ConfigurationError` says what to do when there is none."""
    span = timedelta(seconds=(runs + 1) * RUN_MOVE + 300 * WEEK)  # the last run's walk too
    now = datetime.now(UTC)
    gaps = await pool.fetch(CALENDAR_GAPS, now + timedelta(days=20 * 365),
                            now + timedelta(days=2000 * 365), span)
    week = timedelta(seconds=WEEK)
    choices = [(math.ceil((g["after"] - now) / week) + 1, math.floor((g["before"] - span - now) / week))
               for g in gaps]
    choices = [(first, last) for first, last in choices if first <= last]
    if not choices:
        raise ConfigurationError(
            f"no {span.days // 365}-year stretch of the calendar 20 to 2,000 years ahead is free "
            "of earlier benches' meetings: stop the stack (commande stack down), remove its "
            "PostgreSQL data (postgres/ in COMMANDE_STATE_DIR) and start it again")
    first, last = random.choice(choices)
    return WEEK * random.randint(first, last)


@dataclass(frozen=True, slots=True)
class ServicesClock:
    """The services' clock offset file, and the database that says what falls due when it moves."""

    path: Path
    pool: asyncpg.Pool

    async def move(self, offset: float, lag: LagSampler, timeout: float = 900.0) -> tuple[int, float]:
        """Set the services' clock ``offset`` s ahead, then wait until they have done what that
        made due (the earlier runs' situations: intake's retention timers, convening's SLA and
        agenda timers, and the notices those cause) and their consumers have caught up, so that
        a run measures its own referrals, not years of catching up; returns the most that was
        due and the seconds waited."""
        await asyncio.to_thread(self.path.write_text, f"{offset:.0f}")
        await asyncio.sleep(0.2)  # the services read the file on their next clock reading
        began, most = time.monotonic(), 0
        while time.monotonic() - began < timeout:
            due = int(await self.pool.fetchval(DUE_AT, datetime.now(UTC) + timedelta(seconds=offset)))
            most = max(most, due)
            if due == 0:
                break
            await asyncio.sleep(1.0)
        else:
            print(f"after {timeout:.0f} s the services still have work due at their clock",
                  file=sys.stderr)
        await lag.caught_up()
        return most, time.monotonic() - began


TOP_SQL = """
SELECT calls, total_exec_time, rows, regexp_replace(query, '\\s+', ' ', 'g') AS query
FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1
"""
"""The statements that took PostgreSQL longest to execute since the last reset (their text has
placeholders, never values)."""


class SqlMeter:
    """What PostgreSQL executed over an interval (``pg_stat_statements``, reset at the start)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.missing = ""
        """Why there are no figures (the extension is not loaded), else empty."""

    async def start(self) -> None:
        try:
            await self._pool.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await self._pool.execute("SELECT pg_stat_statements_reset()")
        except asyncpg.PostgresError as exc:
            self.missing = (f"no SQL figures ({exc}): restart the stack "
                            "(commande stack down && commande stack up) to preload the extension")

    async def stop(self, top: int = 8) -> list[str]:
        """``calls, total ms, mean ms, rows: statement`` of the ``top`` costliest."""
        if self.missing:
            return [self.missing]
        rows = await self._pool.fetch(TOP_SQL, top)
        return [f"{r['calls']:,} calls, {r['total_exec_time']:,.0f} ms, "
                f"{r['total_exec_time'] / max(1, r['calls']):.2f} ms each, {r['rows']:,} rows: "
                f"{r['query'][:140]}" for r in rows]


async def pipeline_run(producer: AIOKafkaProducer, watcher: Watcher, lag: LagSampler,
                       meter: CpuMeter, loops: WaitsMeter, sql: SqlMeter,
                       timed: Sequence[tuple[float, OutRecord]],
                       urgent_keys: set[bytes], seconds: float, clock: ServicesClock,
                       offset: float) -> Run:
    """Offer the load to the pipeline (its clock ``offset`` seconds ahead, once what that made
    due is done) and wait for it."""
    await lag.caught_up()
    due, waited = await clock.move(offset, lag)
    if due:
        print(f"the clock's move made {due} timers and notices of earlier runs due: done in "
              f"{waited:.0f} s, before the run", flush=True)
    watcher.offset_ms = int(offset * 1000)
    await watcher.pin()
    stop = asyncio.Event()
    sampling = asyncio.create_task(lag.sample(stop))
    meter.start()
    await loops.start()
    await sql.start()
    began = time.time()
    sent = await offer(producer, None, timed)
    produced = (max(sent.values()) - min(sent.values())) / 1000
    seen = watcher.seen
    refs = {k.decode().partition("/")[2]: k for k in sent}
    urgent_refs = {k.decode().partition("/")[2] for k in urgent_keys}

    def done() -> bool:
        if len(seen.accepted) + len(seen.rejected) < len(sent):
            return False
        sids = [seen.situation_of.get(r) for r in refs]
        if any(s is None or s not in seen.scheduled for s in sids):
            return False
        mailed = first_mail(seen)
        return all(seen.situation_of[r] in mailed for r in urgent_refs)

    finished = await wait_until(done, seconds * 4 + 90)
    cpu = meter.stop()
    loop_lag, placement_wait = await loops.stop()
    top_sql = await sql.stop()
    stop.set()
    await sampling
    if not finished:
        print("the deadline passed before every referral was scheduled and every urgent one "
              "mailed: figures cover what arrived", file=sys.stderr)
    mailed = first_mail(seen)
    ours_sids = {seen.situation_of[r] for r in refs if r in seen.situation_of}
    our_agendas = {cause for cause, sids in seen.agendas.items() if ours_sids & set(sids)}
    our_meetings = {m for cause, m, _a, _k, _t in seen.agenda_issues if cause in our_agendas}
    issues = [(m, a, k, t) for _c, m, a, k, t in seen.agenda_issues if m in our_meetings]
    routine_done = [seen.scheduled[s] for r in refs if r not in urgent_refs
                    and (s := seen.situation_of.get(r)) in seen.scheduled]
    routine_sent = [sent[k] for r, k in refs.items() if r not in urgent_refs]
    drained = max(routine_done, default=0)
    routine_rate = (len(routine_done) / max(0.001, (drained - min(routine_sent)) / 1000)
                    if routine_done else 0.0)
    routine_ms, urgent_sched, urgent_mail = [], [], []
    during, during_sched, during_mail = 0, [], []
    for ref, key in refs.items():
        sid = seen.situation_of.get(ref)
        if ref in urgent_refs and sent[key] <= drained:
            during += 1
        if sid is None or sid not in seen.scheduled:
            continue
        latency = float(seen.scheduled[sid] - sent[key])
        if ref in urgent_refs:
            urgent_sched.append(latency)
            mail = float(mailed[sid] - sent[key]) if sid in mailed else None
            if mail is not None:
                urgent_mail.append(mail)
            if sent[key] <= drained:
                during_sched.append(latency)
                if mail is not None:
                    during_mail.append(mail)
        else:
            routine_ms.append(latency)
    ours = [seen.scheduled[s] for r in refs if (s := seen.situation_of.get(r)) in seen.scheduled]
    last = max(ours, default=int(began * 1000)) / 1000
    return Run(offered=len(sent), urgent=len(urgent_refs), produced_rate=len(sent) / produced,
               scheduled=len(ours), throughput=len(ours) / (last - min(sent.values()) / 1000),
               routine_ms=routine_ms, urgent_sched_ms=urgent_sched, urgent_mail_ms=urgent_mail,
               rejected=len(seen.rejected), lag=list(lag.samples), cpu=cpu,
               base_rate=0.0, base_ms=[], agendas=len(issues),
               agenda_mails=sum(1 for cause, _at in seen.delivered if cause in our_agendas),
               agendas_per_minute=most_in_a_minute(issues), urgent_notices=seen.urgent_notices,
               loop_lag=loop_lag, placement_wait=placement_wait, top_sql=top_sql,
               routine_rate=routine_rate,
               during_urgent=during, during_sched_ms=during_sched, during_mail_ms=during_mail)


def most_in_a_minute(issues: Sequence[tuple[str, str, str, int]]) -> int:
    """The most agendas one participant got for one ad-hoc meeting within any 60 s window."""
    by: dict[tuple[str, str], list[int]] = {}
    for meeting, agency, kind, stamp in issues:
        if kind == "ad_hoc":
            by.setdefault((meeting, agency), []).append(stamp)
    most = 0
    for stamps in by.values():
        stamps.sort()
        start = 0
        for end, at in enumerate(stamps):
            while at - stamps[start] >= 60_000:
                start += 1
            most = max(most, end - start + 1)
    return most


# -- the processes -----------------------------------------------------------------------------


def stop_service(proc: ServiceProcess, profiled: bool) -> int:
    """SIGTERM (SIGINT under cProfile, so the profile is written); SIGKILL after 60 s."""
    assert proc.proc is not None
    if not profiled:
        return proc.terminate(timeout=60)
    proc.proc.send_signal(signal.SIGINT)
    try:
        return proc.proc.wait(60)
    except Exception:
        proc.proc.kill()
        return proc.proc.wait()


@dataclass
class Outcome:
    runs: list[Run]
    peak_rss_kb: dict[str, int]
    log_dir: Path
    backfills: list[Run] = field(default_factory=list)
    """The backfill scenario's runs (``--backfill``), after the steady ones."""
    backfill_table: str | None = None
    """The one table the backlog was on (``--backfill-table``), the urgent ones on the others."""


def table_towns(district: str | None) -> tuple[Sequence[str], Sequence[str]]:
    """The towns a backfill's backlog and its urgent referrals cycle over: all of Halton's for
    both, or ``district``'s for the backlog and the other tables' for the urgent ones."""
    if district is None:
        return TOWNS, TOWNS
    [table] = [d for d in reference().districts if d.code == district]
    own = {m.code for m in table.municipalities}
    return [t for t in TOWNS if t in own], [t for t in TOWNS if t not in own]


async def bench(rate: float, urgent_rate: float, seconds: float, runs: int,
                profile: Sequence[str], backfill: int = 0, backfill_urgent: float = 5.0,
                backfill_table: str | None = None) -> Outcome:
    settings = development_stack(Settings())
    tag = uuid.uuid4().hex[:8]
    log_dir = Path(tempfile.mkdtemp(prefix=f"bench-pipeline-{tag}-"))
    chain = [TopicSpec(f"bench.pipeline.{tag}.{hop}", "{agency_id}/{referral_ref}", "bench",
                       "bench", retention_ms=3_600_000, partitions=REFERRALS.partitions)
             for hop in ("in", "mid", "out")]
    await ensure_topics(settings, HARNESS)
    await ensure_topics(settings, HARNESS, tuple(chain))
    print(f"logs in {log_dir}; baseline topics bench.pipeline.{tag}.*", flush=True)
    procs: dict[str, ServiceProcess] = {}
    relays: list[asyncio.subprocess.Process] = []
    producer = kafka_client.producer(settings, HARNESS, client_id="bench-pipeline-partner",
                                     **PRODUCER_SETTINGS)
    routine_maker = Referrals("milton-individual", prefix="r")
    urgent_maker = Referrals("oakville-family-urgent", prefix="u")
    urgent_maker.tag = routine_maker.tag
    watcher = Watcher(settings, WATCHED, routine_maker.tag)
    echo = Watcher(settings, [chain[2].name], routine_maker.tag)
    lag = LagSampler(settings)
    clock_file = log_dir / "clock-offset"
    clock = ServicesClock(clock_file, await asyncpg.create_pool(
        settings.database_url.get_secret_value(), min_size=1, max_size=1))
    out: list[Run] = []
    try:
        for which in SERVICES:
            args: tuple[str, ...] = ()
            if which in profile:
                args = ("-m", "bench.cpu_profile", str(log_dir / f"{which}.prof"))
            procs[which] = await asyncio.to_thread(
                ServiceProcess(which, settings, log_dir, python_args=args,
                               extra_env=SERVICE_ENV | {"COMMANDE_CLOCK_OFFSET_FILE":
                                                        str(clock_file)}).start,
                ready_within=120)
        offset = await free_offset(clock.pool, 1 + runs * (2 if backfill else 1))
        for i, (src, dst) in enumerate(itertools.pairwise(chain)):
            relays.append(await start_raw_loop(settings, src.name, dst.name,
                                               f"bench.pipeline.{tag}.hop{i}"))
        await producer.start()
        for reader in (watcher, echo, lag):
            await reader.start()
        await lag.caught_up()
        meter = CpuMeter({w: p.proc.pid for w, p in procs.items() if p.proc is not None})
        loops = WaitsMeter({w: p.admin_port for w, p in procs.items()})
        sql = SqlMeter(clock.pool)

        def load(secs: float) -> tuple[list[tuple[float, OutRecord]], set[bytes]]:
            routine = routine_maker.make(round(rate * secs))
            urgent = urgent_maker.make(round(urgent_rate * secs))
            return plan(routine, urgent, secs), {r.key for r in urgent if r.key is not None}

        warm, warm_urgent = load(min(3.0, seconds))
        hops = [relay.pid for relay in relays]
        await baseline(producer, echo, chain[0].name, warm, 3.0, hops)
        await pipeline_run(producer, watcher, lag, meter, loops, sql, warm, warm_urgent, 3.0, clock,
                           offset)
        print(f"warmed up with {len(warm)} referrals", flush=True)

        for i in range(runs):
            timed, urgent_keys = load(seconds)
            base_rate, base_ms, base_cpu = await baseline(producer, echo, chain[0].name, timed,
                                                          seconds, hops)
            offset += RUN_MOVE
            run = await pipeline_run(producer, watcher, lag, meter, loops, sql, timed, urgent_keys,
                                     seconds, clock, offset)
            run.base_rate, run.base_ms, run.base_cpu_ms = base_rate, base_ms, base_cpu
            out.append(run)
            print(f"run {i + 1}: " + "; ".join(run_lines(run)), *sql_lines(run), sep="\n",
                  flush=True)
        drains: list[Run] = []
        if backfill:
            steady = statistics.median(r.throughput for r in out)
            drain = backfill / steady
            backlog_towns, urgent_towns = table_towns(backfill_table)
            for i in range(runs):
                backlog = routine_maker.make(backfill, backlog_towns)
                urgent = urgent_maker.make(max(1, round(backfill_urgent * drain)), urgent_towns)
                offset += RUN_MOVE
                run = await pipeline_run(
                    producer, watcher, lag, meter, loops, sql,
                    plan_backfill(backlog, urgent, drain),
                    {r.key for r in urgent if r.key is not None}, drain, clock, offset)
                drains.append(run)
                print(f"backfill {i + 1}: " + "; ".join(run_lines(run)), *sql_lines(run),
                      sep="\n", flush=True)
        peak = {w: memory_kb(p.proc.pid) for w, p in procs.items() if p.proc is not None}
        return Outcome(out, peak, log_dir, drains, backfill_table)
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
        with contextlib.suppress(Exception):
            await clock.pool.close()
        for reader in (watcher, echo, lag):
            with contextlib.suppress(Exception):
                await reader.stop()
        for relay in relays:
            if relay.returncode is None:
                relay.send_signal(signal.SIGTERM)
                await relay.wait()
        for which, proc in procs.items():
            code = await asyncio.to_thread(stop_service, proc, which in profile)
            if code not in (0, -signal.SIGTERM, -signal.SIGINT):
                print(f"{which} exited with {code}; see {proc.log_file}", file=sys.stderr)
        admin = kafka_client.admin(settings, HARNESS)
        with contextlib.suppress(Exception):
            await admin.start()
            await admin.delete_topics([t.name for t in chain])
        with contextlib.suppress(Exception):
            await admin.close()


# -- the report --------------------------------------------------------------------------------


def _ms(values: Sequence[float]) -> str:
    return (f"p50 {percentile(values, 50):,.0f} ms, p95 {percentile(values, 95):,.0f} ms, "
            f"p99 {percentile(values, 99):,.0f} ms")


def run_lines(run: Run) -> list[str]:
    return [
        f"offered {run.offered} ({run.urgent} urgent) at {run.produced_rate:,.0f}/s; scheduled "
        f"{run.scheduled} at {run.throughput:,.0f}/s; rejected {run.rejected}",
        f"routine -> SituationScheduled {_ms(run.routine_ms)}",
        f"urgent -> SituationScheduled {_ms(run.urgent_sched_ms)}",
        f"urgent -> first e-mail delivered ({len(run.urgent_mail_ms)} of {run.urgent}) "
        f"{_ms(run.urgent_mail_ms)}",
        f"baseline chain {run.base_rate:,.0f}/s {_ms(run.base_ms)}, "
        f"cpu per record per hop {run.base_cpu_ms:.2f} ms",
        "max lag " + ", ".join(f"{g} {run.max_lag(g)}" for g in GROUPS),
        f"cpu {cpu_text(run.cpu)}",
        f"cpu per referral {cpu_per_item(run.cpu, run.offered, SERVICES)}",
        f"event-loop lag {loop_lag_text(run.loop_lag)}",
        f"placement-lock waits {placement_wait_text(run.placement_wait)}",
    ]


def sql_lines(run: Run) -> list[str]:
    """The run's costliest statements, indented under its line."""
    return [f"  sql: {line}" for line in run.top_sql]


def med(runs: Sequence[Run], fn: Callable[[Run], float]) -> float:
    return float(statistics.median(fn(r) for r in runs))


def report(out: Outcome, rate: float, urgent: float, seconds: float) -> list[str]:
    runs = out.runs
    r99 = med(runs, lambda r: r.p("routine_ms", 99))
    u99 = med(runs, lambda r: r.p("urgent_mail_ms", 99))
    b99 = med(runs, lambda r: r.p("base_ms", 99))
    rss = {w: kb / 1024 for w, kb in out.peak_rss_kb.items()}
    median_run = sorted(runs, key=lambda r: r.p("routine_ms", 99))[len(runs) // 2]
    series = [f"{t:.0f}s " + "/".join(str(v[g]) for g in ("intake", "convening", "notifier"))
              for t, v in median_run.lag[::max(1, len(median_run.lag) // 12)]]
    lines = [
        f"- offered: {rate:g} routine + {urgent:g} urgent referrals/s for {seconds:g} s, "
        f"{len(runs)} run(s) (medians below); per run, scheduled/s: "
        + ", ".join(f"{r.throughput:,.0f}" for r in runs),
        f"- sustained throughput (situations scheduled / first produce to last scheduled): "
        f"**{med(runs, lambda r: r.throughput):,.0f}/s** (offered "
        f"{med(runs, lambda r: r.produced_rate):,.0f}/s actually produced); "
        f"rejected {sum(r.rejected for r in runs)}",
        "- routine, submission -> SituationScheduled: "
        f"p50 {med(runs, lambda r: r.p('routine_ms', 50)):,.0f} ms, "
        f"p95 {med(runs, lambda r: r.p('routine_ms', 95)):,.0f} ms, **p99 {r99:,.0f} ms**",
        "- urgent, submission -> SituationScheduled: "
        f"p50 {med(runs, lambda r: r.p('urgent_sched_ms', 50)):,.0f} ms, "
        f"p95 {med(runs, lambda r: r.p('urgent_sched_ms', 95)):,.0f} ms, "
        f"p99 {med(runs, lambda r: r.p('urgent_sched_ms', 99)):,.0f} ms",
        "- urgent, submission -> first e-mail about it delivered (invitation, agenda or the "
        "chair's urgent notice; NoticeDelivered "
        f"delivered_at): p50 {med(runs, lambda r: r.p('urgent_mail_ms', 50)):,.0f} ms, "
        f"p95 {med(runs, lambda r: r.p('urgent_mail_ms', 95)):,.0f} ms, **p99 {u99:,.0f} ms** "
        f"({sum(len(r.urgent_mail_ms) for r in runs)} of {sum(r.urgent for r in runs)} mailed)",
        f"- baseline, raw aiokafka two-hop relay chain, same offered load: "
        f"{med(runs, lambda r: r.base_rate):,.0f} records/s, "
        f"p50 {med(runs, lambda r: r.p('base_ms', 50)):,.0f} ms, "
        f"p99 {b99:,.0f} ms; CPU per record of one hop (consume, produce, commit: the Kafka "
        f"client's floor under each service's hop) {med(runs, lambda r: r.base_cpu_ms):.2f} ms",
        f"- ratios pipeline/baseline: throughput "
        f"{med(runs, lambda r: r.throughput / r.base_rate if r.base_rate else 0):.2f}, "
        f"routine p99 latency {r99 / b99 if b99 else float('nan'):.1f}x",
        f"- agendas issued for the run's meetings: {med(runs, lambda r: r.agendas):,.0f}, "
        f"their e-mails delivered: {med(runs, lambda r: r.agenda_mails):,.0f}; the most one "
        f"participant got for one ad-hoc meeting within a minute: "
        f"**{med(runs, lambda r: r.agendas_per_minute):.0f}** (update window "
        f"{ConveningSettings().agenda_update_window_seconds:g} s); the chair's urgent-situation "
        f"notices: {med(runs, lambda r: r.urgent_notices):,.0f}",
        "- consumer lag, max records behind: " + ", ".join(
            f"{g} {statistics.median(r.max_lag(g) for r in runs):,.0f}" for g in GROUPS),
        "- lag over time (median run; intake/convening/notifier): " + ", ".join(series),
        "- peak RSS (VmHWM): " + ", ".join(f"{w} {mb:,.0f} MB" for w, mb in rss.items()),
        f"- CPU seconds, median run: {cpu_text(median_run.cpu)}",
        "- CPU per referral (median run, the services' own processes): "
        + cpu_per_item(median_run.cpu, median_run.offered, SERVICES),
        f"- event-loop lag (median run): {loop_lag_text(median_run.loop_lag)}",
        "- convening's placement-lock waits (median run): "
        + placement_wait_text(median_run.placement_wait),
    ]
    verdicts = [
        f"{rate:g} routine/s with p99 < {TARGET_ROUTINE_P99_MS:.0f} ms to SituationScheduled: "
        + ("**met**" if r99 < TARGET_ROUTINE_P99_MS
           and med(runs, lambda r: r.throughput) >= 0.95 * (rate + urgent) else "**not met**"),
        f"{urgent:g} urgent/s with p99 < {TARGET_URGENT_P99_MS:.0f} ms to the first e-mail: "
        + ("**met**" if u99 < TARGET_URGENT_P99_MS else "**not met**"),
        f"each service < {TARGET_RSS_MB:.0f} MB RSS: "
        + ("**met**" if rss and max(rss.values()) < TARGET_RSS_MB else "**not met**"),
    ]
    lines.append("- targets: " + "; ".join(verdicts))
    if out.backfills:
        lines += backfill_report(out.backfills, med(runs, lambda r: r.throughput),
                                 out.backfill_table)
    return lines


def backfill_report(runs: Sequence[Run], steady: float, table: str | None = None) -> list[str]:
    """The backfill scenario: how fast the backlog drains, and the latencies of the urgent
    referrals produced while it drained (those produced after it are left out)."""
    drain = med(runs, lambda r: r.routine_rate)
    sched99 = med(runs, lambda r: r.p("during_sched_ms", 99))
    mail99 = med(runs, lambda r: r.p("during_mail_ms", 99))
    median_run = sorted(runs, key=lambda r: r.routine_rate)[len(runs) // 2]
    return [
        f"- **backfill**: {median_run.offered - median_run.urgent:,} routine referrals at once"
        + (f" on the {table} table" if table else "")
        + f", urgent ones meanwhile ({median_run.urgent} per run, "
        + ", ".join(str(r.during_urgent) for r in runs) + " of them produced before the backlog "
        "had drained" + (", on the other tables" if table else "") + f"); {len(runs)} run(s), "
        "medians",
        f"  - backlog drained at **{drain:,.0f}/s** (its routine situations scheduled / first "
        f"produce to last scheduled), {drain / steady if steady else 0:.2f} of the "
        f"steady-state throughput above ({steady:,.0f}/s); per run: "
        + ", ".join(f"{r.routine_rate:,.0f}" for r in runs),
        f"  - urgent during the drain, submission -> SituationScheduled: p50 "
        f"{med(runs, lambda r: r.p('during_sched_ms', 50)):,.0f} ms, **p99 {sched99:,.0f} ms**",
        f"  - urgent during the drain, submission -> first e-mail: p50 "
        f"{med(runs, lambda r: r.p('during_mail_ms', 50)):,.0f} ms, **p99 {mail99:,.0f} ms** "
        f"({sum(len(r.during_mail_ms) for r in runs)} of {sum(r.during_urgent for r in runs)} "
        "mailed)",
        "  - consumer lag, max records behind: " + ", ".join(
            f"{g} {statistics.median(r.max_lag(g) for r in runs):,.0f}" for g in GROUPS),
        "  - CPU per referral (median run): "
        + cpu_per_item(median_run.cpu, median_run.offered, SERVICES),
        "  - event-loop lag (median run; a service's lanes wait while its loop is held): "
        + loop_lag_text(median_run.loop_lag),
        "  - convening's placement-lock waits (median run; an urgent batch waits for a batch "
        "of the same tables): " + placement_wait_text(median_run.placement_wait),
        "  - targets: urgent p99 < 1 s to SituationScheduled: "
        + ("**met**" if sched99 < 1000 else "**not met**")
        + "; < 2 s to the first e-mail: " + ("**met**" if mail99 < 2000 else "**not met**")
        + "; drain >= 0.8 of steady state: "
        + ("**met**" if steady and drain >= 0.8 * steady else "**not met**"),
    ]


def show_profile(path: Path) -> None:
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(45)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0,
                        help="routine referrals offered per second (default 200)")
    parser.add_argument("--urgent", type=float, default=20.0,
                        help="urgent referrals offered per second, on top (default 20)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="how long the load is offered per run (default 30)")
    parser.add_argument("--runs", type=int, default=1,
                        help="runs (baseline then pipeline each); medians are reported (default 1)")
    parser.add_argument("--backfill", type=int, default=0, metavar="N",
                        help="then, per run, N routine referrals produced at once (a partner's "
                             "migration) while urgent ones keep arriving; reports the drain "
                             "(issue 18 uses 20000)")
    parser.add_argument("--backfill-urgent", type=float, default=5.0,
                        help="urgent referrals per second during the backfill (default 5)")
    parser.add_argument("--backfill-table", choices=[d.code for d in reference().districts],
                        help="the backlog on this district's table only, the urgent ones on the "
                             "other tables (default: both on every table)")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--profile", action="append", default=[], choices=SERVICES,
                        help="run this service under cProfile and print its profile (repeatable)")
    args = parser.parse_args()
    if args.rate <= 0 or args.urgent < 0 or args.seconds <= 0 or args.runs < 1:
        parser.error("--rate and --seconds must be positive, --urgent at least 0, --runs >= 1")
    if args.backfill < 0 or args.backfill_urgent <= 0:
        parser.error("--backfill must be at least 0 and --backfill-urgent positive")
    one_table = (MAX_OVERFLOW - 10) * ConveningSettings().meeting_capacity
    if args.backfill_table and args.backfill > one_table:
        parser.error(f"--backfill-table takes a --backfill of at most {one_table:,}: placement "
                     f"walks past at most {MAX_OVERFLOW} full meetings of a table "
                     "(services/convening/placement.py), the rest would be dead-lettered")
    if args.record and args.profile:
        parser.error("a profiled run is slowed by the profiler: it is never recorded")
    command = " ".join([".venv/bin/python -m bench.pipeline", *sys.argv[1:]])
    began = time.monotonic()
    outcome = asyncio.run(bench(args.rate, args.urgent, args.seconds, args.runs, args.profile,
                                args.backfill, args.backfill_urgent, args.backfill_table))
    lines = report(outcome, args.rate, args.urgent, args.seconds)
    print()
    print("\n".join(lines))
    print(f"(bench took {time.monotonic() - began:.0f}s; service logs in {outcome.log_dir})")
    for which in args.profile:
        print(f"\n==== profile of {which} ====")
        show_profile(outcome.log_dir / f"{which}.prof")
    if args.record:
        record(
            "pipeline (issue 9 item 2): `bench/pipeline.py`",
            "An offered load of routine and urgent referrals through intake, convening and "
            "notifier, each its own process (`commande run`), on the stack's Kafka, PostgreSQL "
            "and SMTP sink; latencies from the referral's produce timestamp to the "
            "SituationScheduled record timestamp, and for urgent referrals to the delivered_at of "
            "the first e-mail NoticeDelivered whose AgendaIssued lists the situation (or whose "
            "UrgentSituationAdded, the chair's notice, names it). Baseline: a "
            "raw aiokafka two-hop relay chain (two processes) at the same offered load.",
            command, lines)
        print("recorded in bench/RESULTS.md")


if __name__ == "__main__":
    main()
