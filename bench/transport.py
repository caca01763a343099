"""Benchmark: the cost of TLS and SCRAM, the same workload on a secured and a plaintext broker.

Run: ``.venv/bin/python -m bench.transport [--records N] [--size B] [--referrals M] [--runs R]
[--no-intake] [--record]`` (defaults N = 20,000, B = 1,024, M = 1,000, R = 3). It needs no stack
of yours: it starts **two throwaway stacks** (Kafka and PostgreSQL, no SMTP sink) on free ports,
each in a temporary state folder, and tears both down at the end, also on failure or Ctrl-C:

* **secured**: the embedded stack as served everywhere (``SASL_SSL`` client listener,
  SCRAM-SHA-512, the stack's private CA, KRaft's ``StandardAuthorizer`` with the ACL table);
* **plaintext**: ``COMMANDE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT``, which ``deploy/local/kafka.py``
  serves in development only, for this comparison (no TLS, no SASL, no authorizer).

Every client comes from :mod:`services.runtime.kafka_client`: the bench's own as the broker's
super user (``bench.common.HARNESS``), intake as its own principal. Each run measures, on one stack
then the other (the order alternates from run to run, so a shared machine's noise falls on both):

1. **connect**: a new producer made by the factory until ``start()`` returns (TCP, TLS handshake
   and SCRAM exchange on the secured side, then metadata); median of 5;
2. **produce**: N records of B random bytes (incompressible) to a scratch topic of 6 partitions
   with the runtime's producer settings (idempotent, ``acks=all``, ``linger_ms=2``), first send
   to last acknowledgement;
3. **consume**: the same N records read back (own assignment, no group) from the run's start
   offsets to its end offsets;
4. **round trip**: 200 records of B bytes one at a time, each produced and awaited by a consumer
   already positioned on a one-partition topic (produce call -> consumer has it). Before the
   runs, each stack gets one unrecorded pass of 1-4 (5,000 records) to warm up;
5. **intake** (unless ``--no-intake``): ``commande run intake`` as its own process on each stack
   (started once, warmed up with 300 referrals), as ``bench.intake`` does: M signed, sealed
   referrals produced up front to ``commande.referrals.v1`` and timed to the last
   ``ReferralAccepted`` (rate; latency includes the wait in the backlog), then 100 paced at one
   every 20 ms (the handling latency when intake is not behind). The same records go to both
   stacks (each has its own database).

CPU seconds of this process (the client side) and of that stack's broker are read from ``/proc``
around each workload; of intake's process too for 5. Figures are medians over the runs; the ratio
is secured / plaintext of the same run's medians (above 1: secured takes longer or costs more;
below 1 for a rate: secured is slower). ``--record`` appends a section to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import TopicPartition
from pydantic import SecretStr

from bench.common import (
    HARNESS,
    PRODUCER_SETTINGS,
    Referrals,
    cpu_seconds,
    machine_busy,
    percentile,
    record,
)
from bench.intake import (
    PACE_SECONDS,
    Answers,
    caught_up,
    free_port,
    measure,
    start_intake,
    terminate,
)
from deploy.local import kafka, postgres, procs
from schemas.topics import REFERRAL_STATUS, REFERRALS, TopicSpec
from services.runtime import kafka_client
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics

SIDES = ("secured", "plaintext")
PROTOCOL = {"secured": "SASL_SSL", "plaintext": "PLAINTEXT"}
CONNECTS = 5
ROUND_TRIPS = 200
PARTITIONS = 6
RAW_WARMUP = 5000
INTAKE_WARMUP = 300
INTAKE_PACED = 100
CLIENT_OVERRIDES = ("COMMANDE_KAFKA_USERNAME", "COMMANDE_KAFKA_PASSWORD",
                    "COMMANDE_KAFKA_PASSWORD_FILE", "COMMANDE_KAFKA_CA_FILE",
                    "COMMANDE_KAFKA_CERT_FILE", "COMMANDE_KAFKA_KEY_FILE",
                    "COMMANDE_KAFKA_SASL_MECHANISM")
"""Client settings that would point the stacks' clients at other credentials: ignored here."""
T = TypeVar("T")


# -- the throwaway stacks ----------------------------------------------------------------------


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, taken: set[int]) -> list[int]:
    """``count`` ports, each free with the next one free too (Kafka's controller), below the
    ephemeral range (as the reliability suite's private stack picks them)."""
    try:
        floor = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        floor = 32768
    rng = random.Random()
    found: list[int] = []
    while len(found) < count:
        port = rng.randrange(20000, floor - 2)
        span = {port, port + 1}
        if span & (taken | {p + d for p in found for d in (0, 1)}):
            continue
        if all(_bindable(p) for p in span):
            found.append(port)
    return found


@dataclass
class Stack:
    """One throwaway stack: Kafka and PostgreSQL on free ports in a temporary state folder."""

    side: str
    settings: Settings
    state: Path

    @classmethod
    def make(cls, side: str, taken: set[int]) -> Stack:
        # Not under a folder private to root: PostgreSQL runs as its own user.
        state = Path(tempfile.mkdtemp(prefix=f"commande-transport-{side}-"))
        broker, database, smtp = free_ports(3, taken)
        taken.update({broker, broker + 1, database, database + 1, smtp, smtp + 1})
        settings = Settings(
            env="development", kafka_security_protocol=PROTOCOL[side],
            kafka_bootstrap=f"127.0.0.1:{broker}", state_dir=state, smtp_port=smtp,
            database_url=SecretStr(f"postgresql://commande@127.0.0.1:{database}/commande"),
            kafka_username=None, kafka_password=None, kafka_password_file=None,
            kafka_ca_file=None, kafka_cert_file=None, kafka_key_file=None)
        return cls(side, settings, state)

    def up(self) -> None:
        """PostgreSQL, the broker (its CA, principals and ACLs when secured) and the topics."""
        postgres.start(self.settings)
        kafka.start(self.settings)
        kafka.apply_security(self.settings)
        asyncio.run(ensure_topics(self.settings, HARNESS))
        print(f"{self.side} stack up: kafka 127.0.0.1:{self.settings.kafka_port} "
              f"({self.settings.kafka_security_protocol}), postgres "
              f"127.0.0.1:{self.settings.database_port}, state {self.state}", flush=True)

    def broker_pid(self) -> int:
        pid = procs.read_pid(kafka.paths(self.settings).pid)
        if pid is None:
            raise SystemExit(f"the {self.side} broker is not running")
        return pid

    def down(self, keep_log: Path | None) -> None:
        """Stop both servers and remove the state folder (the broker's log copied to
        ``keep_log`` first, when given)."""
        try:
            if keep_log is not None and kafka.paths(self.settings).log.exists():
                shutil.copy(kafka.paths(self.settings).log, keep_log)
            kafka.stop(self.settings)
        finally:
            try:
                postgres.stop(self.settings)
            finally:
                shutil.rmtree(self.state, ignore_errors=True)


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Cpu:
    """CPU seconds of named processes and the machine's busy share over an interval."""

    pids: dict[str, int]
    before: dict[str, float] = field(default_factory=dict)
    busy: tuple[float, float] = (0.0, 0.0)

    def start(self) -> None:
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.busy = machine_busy()

    def stop(self) -> dict[str, float]:
        out = {name: cpu_seconds(pid) - self.before[name] for name, pid in self.pids.items()}
        busy, total = machine_busy()
        out["machine"] = (busy - self.busy[0]) / ((total - self.busy[1]) or 1.0)
        return out


async def timed(cpu: Cpu, work: Callable[[], Awaitable[T]]) -> tuple[T, float, dict[str, float]]:
    """``work()``'s result, its wall seconds and CPU readings."""
    cpu.start()
    began = time.perf_counter()
    result = await work()
    seconds = time.perf_counter() - began
    return result, seconds, cpu.stop()


@dataclass
class Figures:
    """One run on one stack."""

    connect_ms: float = 0.0
    produce_rate: float = 0.0
    produce_cpu: dict[str, float] = field(default_factory=dict)
    consume_rate: float = 0.0
    consume_cpu: dict[str, float] = field(default_factory=dict)
    round_trip_ms: list[float] = field(default_factory=list)
    intake_rate: float = 0.0
    intake_p50: float = 0.0
    intake_p99: float = 0.0
    intake_cpu: dict[str, float] = field(default_factory=dict)
    paced_p50: float = 0.0
    paced_p99: float = 0.0


class Raw:
    """The raw workloads on one stack, with the scratch topics of this bench run."""

    def __init__(self, stack: Stack, tag: str, size: int) -> None:
        self.stack = stack
        self.settings = stack.settings
        self.topic = TopicSpec(f"bench.transport.{tag}", "{n}", "bench", "bench",
                               retention_ms=3_600_000, partitions=PARTITIONS)
        self.rt_topic = TopicSpec(f"bench.transport.{tag}.rt", "{n}", "bench", "bench",
                                  retention_ms=3_600_000, partitions=1)
        self.value = os.urandom(size)
        self._sent = 0

    async def prepare(self) -> None:
        await ensure_topics(self.settings, HARNESS, (self.topic, self.rt_topic))

    def _producer(self, client: str) -> Any:
        return kafka_client.producer(self.settings, HARNESS, client_id=f"bench-transport-{client}",
                                     **PRODUCER_SETTINGS)

    def _consumer(self, client: str, **options: Any) -> Any:
        return kafka_client.consumer(self.settings, HARNESS, group_id=None,
                                     enable_auto_commit=False,
                                     client_id=f"bench-transport-{client}", **options)

    async def connect_ms(self) -> float:
        """Median milliseconds for a new factory producer to start."""
        samples = []
        for _ in range(CONNECTS):
            began = time.perf_counter()
            producer = self._producer("connect")
            await producer.start()
            samples.append((time.perf_counter() - began) * 1000)
            await producer.stop()
        return statistics.median(samples)

    async def ends(self, topic: str, partitions: int) -> dict[TopicPartition, int]:
        consumer = self._consumer("ends")
        await consumer.start()
        try:
            found: dict[TopicPartition, int] = await consumer.end_offsets(
                [TopicPartition(topic, p) for p in range(partitions)])
            return found
        finally:
            await consumer.stop()

    async def produce(self, producer: Any, count: int) -> None:
        futures = []
        for _ in range(count):
            key = f"{self._sent:012d}".encode()
            self._sent += 1
            futures.append(await producer.send(self.topic.name, self.value, key=key))
        await asyncio.gather(*futures)

    async def consume(self, consumer: Any, start: dict[TopicPartition, int],
                      end: dict[TopicPartition, int]) -> int:
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        remaining = {tp for tp in end if end[tp] > start[tp]}
        count = 0
        deadline = time.monotonic() + 120
        while remaining:
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.stack.side}: consuming timed out ({count} read)")
            batch = await consumer.getmany(timeout_ms=500, max_records=10000)
            for tp, recs in batch.items():
                count += sum(1 for r in recs if r.offset < end[tp])
                if recs and recs[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return count

    async def round_trips(self, count: int) -> list[float]:
        """Milliseconds from the produce call to the consumer having the record, one at a time."""
        tp = TopicPartition(self.rt_topic.name, 0)
        producer = self._producer("rt")
        consumer = self._consumer("rt", fetch_max_wait_ms=100)
        await producer.start()
        await consumer.start()
        try:
            consumer.assign([tp])
            await consumer.seek_to_end(tp)
            await consumer.position(tp)
            out = []
            for i in range(count + 5):  # the first five warm the connections up
                waiting = asyncio.ensure_future(consumer.getone())
                began = time.perf_counter()
                await producer.send_and_wait(self.rt_topic.name, self.value, key=b"%d" % i)
                await asyncio.wait_for(waiting, 30)
                if i >= 5:
                    out.append((time.perf_counter() - began) * 1000)
            return out
        finally:
            await producer.stop()
            await consumer.stop()

    async def run(self, count: int, figures: Figures, round_trips: int = ROUND_TRIPS) -> None:
        """connect, produce, consume and round trips on this stack, into ``figures``."""
        figures.connect_ms = await self.connect_ms()
        cpu = Cpu({"client": os.getpid(), "broker": self.stack.broker_pid()})
        start = await self.ends(self.topic.name, PARTITIONS)
        producer = self._producer("produce")
        await producer.start()
        try:
            _, seconds, figures.produce_cpu = await timed(cpu, lambda: self.produce(producer,
                                                                                     count))
        finally:
            await producer.stop()
        figures.produce_rate = count / seconds
        end = await self.ends(self.topic.name, PARTITIONS)
        # A short fetch_max_wait_ms: the fetch the consumer has waiting at the end of the
        # partitions when the timed seek comes must not add its long-poll (500 ms by default).
        consumer = self._consumer("consume", max_partition_fetch_bytes=8 * 1024 * 1024,
                                  fetch_max_bytes=64 * 1024 * 1024, fetch_max_wait_ms=10)
        await consumer.start()
        try:
            consumer.assign(list(start))
            for tp in start:  # metadata and positions outside the timing
                await consumer.position(tp)
            got, seconds, figures.consume_cpu = await timed(
                cpu, lambda: self.consume(consumer, start, end))
        finally:
            await consumer.stop()  # over SSL it waits up to fetch_max_wait_ms: not timed
        if got != count:
            raise SystemExit(f"{self.stack.side}: produced {count} records, read back {got}")
        figures.consume_rate = count / seconds
        figures.round_trip_ms = await self.round_trips(round_trips)

    async def clean(self) -> None:
        admin = kafka_client.admin(self.settings, HARNESS)
        with contextlib.suppress(Exception):
            await admin.start()
            await admin.delete_topics([self.topic.name, self.rt_topic.name])
        with contextlib.suppress(Exception):
            await admin.close()


class Intake:
    """intake as its own process on one stack, with the bench's partner producer and reader."""

    def __init__(self, stack: Stack, log_dir: Path) -> None:
        self.stack = stack
        self.log = log_dir / f"intake-{stack.side}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.producer: Any = None
        self.status: Answers | None = None

    async def start(self, warm: Sequence[Any]) -> None:
        settings = self.stack.settings
        self.proc = await start_intake(settings, free_port(), self.log, None)
        self.producer = kafka_client.producer(settings, HARNESS,
                                              client_id="bench-transport-partner",
                                              **PRODUCER_SETTINGS)
        await self.producer.start()
        self.status = Answers(settings, REFERRAL_STATUS.name, check_types=True)
        await self.status.start()
        await caught_up(settings)
        await measure("intake", self.producer, REFERRALS.name, self.status, warm, None)
        await caught_up(settings)

    async def run(self, records: Sequence[Any], paced: Sequence[Any], figures: Figures) -> None:
        status = self.status
        assert self.proc is not None
        assert status is not None
        cpu = Cpu({"client": os.getpid(), "broker": self.stack.broker_pid(),
                   "intake": self.proc.pid})
        run, _, figures.intake_cpu = await timed(
            cpu, lambda: measure("intake", self.producer, REFERRALS.name, status, records, None))
        figures.intake_rate, figures.intake_p50, figures.intake_p99 = run.rate, run.p50, run.p99
        await caught_up(self.stack.settings)
        slow = await measure("intake", self.producer, REFERRALS.name, status, paced, None,
                             PACE_SECONDS)
        figures.paced_p50, figures.paced_p99 = slow.p50, slow.p99
        await caught_up(self.stack.settings)

    async def stop(self) -> None:
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()
        if self.status is not None:
            with contextlib.suppress(Exception):
                await self.status.stop()
        if self.proc is not None:
            code = await terminate(self.proc, f"intake ({self.stack.side})")
            if code not in (0, -signal.SIGTERM):
                print(f"intake on the {self.stack.side} stack exited with {code}; see {self.log}",
                      file=sys.stderr)


@dataclass
class Outcome:
    runs: dict[str, list[Figures]]
    records: int
    size: int
    referrals: int
    referral_size: int


async def bench(stacks: dict[str, Stack], args: argparse.Namespace, log_dir: Path) -> Outcome:
    tag = uuid.uuid4().hex[:8]
    raws = {side: Raw(stack, tag, args.size) for side, stack in stacks.items()}
    intakes: dict[str, Intake] = {}
    runs: dict[str, list[Figures]] = {side: [] for side in stacks}
    referral_size = 0
    try:
        for raw in raws.values():  # topics, connections and the broker's JIT warmed up
            await raw.prepare()
            await raw.run(min(args.records, RAW_WARMUP), Figures(), round_trips=20)
        if not args.no_intake:
            referrals = Referrals()
            warm = referrals.make(INTAKE_WARMUP)
            referral_size = len(warm[0].value)
            for side, stack in stacks.items():
                intakes[side] = Intake(stack, log_dir)
                await intakes[side].start(warm)
            print(f"intake up and warmed up on both stacks ({INTAKE_WARMUP} referrals each); "
                  f"logs in {log_dir}", flush=True)
        for i in range(args.runs):
            order = SIDES if i % 2 == 0 else tuple(reversed(SIDES))
            if not args.no_intake:
                records = referrals.make(args.referrals)
                paced = referrals.make(INTAKE_PACED)
            for side in order:
                figures = Figures()
                await raws[side].run(args.records, figures)
                if side in intakes:
                    await intakes[side].run(records, paced, figures)
                runs[side].append(figures)
                print(f"run {i + 1} {side:9}: " + one_line(figures), flush=True)
        return Outcome(runs, args.records, args.size, 0 if args.no_intake else args.referrals,
                       referral_size)
    finally:
        for intake in intakes.values():
            await intake.stop()
        for raw in raws.values():
            await raw.clean()


# -- the report --------------------------------------------------------------------------------


def one_line(f: Figures) -> str:
    line = (f"connect {f.connect_ms:.1f} ms; produce {f.produce_rate:,.0f}/s; consume "
            f"{f.consume_rate:,.0f}/s; round trip p50 {percentile(f.round_trip_ms, 50):.1f} ms "
            f"p99 {percentile(f.round_trip_ms, 99):.1f} ms; cpu produce client "
            f"{f.produce_cpu.get('client', 0):.2f}s broker {f.produce_cpu.get('broker', 0):.2f}s")
    if f.intake_rate:
        line += (f"; intake {f.intake_rate:,.0f}/s p50 {f.intake_p50:,.0f} ms p99 "
                 f"{f.intake_p99:,.0f} ms, paced p50 {f.paced_p50:.0f} ms p99 {f.paced_p99:.0f} ms")
    return line


def med(runs: Sequence[Figures], fn: Callable[[Figures], float]) -> float:
    return float(statistics.median(fn(r) for r in runs))


def report(out: Outcome) -> list[str]:
    sec, pla = out.runs["secured"], out.runs["plaintext"]

    def pair(fn: Callable[[Figures], float], fmt: str, unit: str) -> str:
        s, p = med(sec, fn), med(pla, fn)
        ratio = f"**{s / p:.2f}**" if p else "n/a (below the clock tick)"
        return f"{s:{fmt}} {unit} / {p:{fmt}} {unit}, ratio {ratio}"

    def per_k(key: str, cpu: str, n: int) -> Callable[[Figures], float]:
        return lambda f: getattr(f, key).get(cpu, 0.0) / n * 1000

    mb = out.records * out.size / 1e6
    lines = [
        f"- runs: {len(sec)} per side, alternating which stack goes first (medians below; "
        "secured / plaintext, ratio = secured / plaintext)",
        f"- connect (a new factory producer until `start()` returns, median of {CONNECTS}): "
        + pair(lambda f: f.connect_ms, ".1f", "ms"),
        f"- produce {out.records:,} × {out.size:,} B ({mb:.0f} MB; idempotent, acks=all): "
        + pair(lambda f: f.produce_rate, ",.0f", "records/s"),
        "- consume the same records: " + pair(lambda f: f.consume_rate, ",.0f", "records/s"),
        f"- round trip, one {out.size:,} B record at a time ({ROUND_TRIPS} per run), p50: "
        + pair(lambda f: percentile(f.round_trip_ms, 50), ".1f", "ms") + "; p99: "
        + pair(lambda f: percentile(f.round_trip_ms, 99), ".1f", "ms"),
        "- CPU seconds per 1,000 records produced: client "
        + pair(per_k("produce_cpu", "client", out.records), ".3f", "s")
        + "; broker " + pair(per_k("produce_cpu", "broker", out.records), ".3f", "s"),
        "- CPU seconds per 1,000 records consumed: client "
        + pair(per_k("consume_cpu", "client", out.records), ".3f", "s")
        + "; broker " + pair(per_k("consume_cpu", "broker", out.records), ".3f", "s"),
    ]
    if out.referrals:
        lines += [
            f"- intake as a process, {out.referrals:,} signed referrals produced up front "
            f"(record value {out.referral_size:,} B): "
            + pair(lambda f: f.intake_rate, ",.0f", "referrals/s")
            + "; latency (backlog) p50 " + pair(lambda f: f.intake_p50, ",.0f", "ms")
            + "; p99 " + pair(lambda f: f.intake_p99, ",.0f", "ms"),
            f"- intake paced, {INTAKE_PACED} referrals at {1 / PACE_SECONDS:.0f}/s: p50 "
            + pair(lambda f: f.paced_p50, ".0f", "ms") + "; p99 "
            + pair(lambda f: f.paced_p99, ".0f", "ms"),
            "- CPU seconds per 1,000 referrals: intake "
            + pair(per_k("intake_cpu", "intake", out.referrals), ".2f", "s")
            + "; broker " + pair(per_k("intake_cpu", "broker", out.referrals), ".2f", "s")
            + "; bench client " + pair(per_k("intake_cpu", "client", out.referrals), ".2f", "s"),
        ]
    busy = [f.produce_cpu.get("machine", 0.0) for f in sec + pla]
    lines.append(f"- machine busy while producing (all CPUs, every process of the machine): "
                 f"{min(busy):.0%} to {max(busy):.0%}")
    lines.append("- per run (produce records/s, secured / plaintext): " + "; ".join(
        f"{s.produce_rate:,.0f} / {p.produce_rate:,.0f}" for s, p in zip(sec, pla, strict=True))
        + (("; intake referrals/s: " + "; ".join(
            f"{s.intake_rate:,.0f} / {p.intake_rate:,.0f}" for s, p in zip(sec, pla, strict=True)))
           if out.referrals else ""))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.transport", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20000,
                        help="records produced and consumed per run (default 20000)")
    parser.add_argument("--size", type=int, default=1024, help="bytes per record (default 1024)")
    parser.add_argument("--referrals", type=int, default=1000,
                        help="referrals through intake per run (default 1000)")
    parser.add_argument("--no-intake", action="store_true", help="raw Kafka workloads only")
    parser.add_argument("--runs", type=int, default=3, help="runs per stack (default 3)")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    if args.records < 1 or args.size < 1 or args.referrals < 1 or args.runs < 1:
        parser.error("--records, --size, --referrals and --runs must be at least 1")
    command = " ".join([".venv/bin/python -m bench.transport", *sys.argv[1:]])
    overridden = [name for name in CLIENT_OVERRIDES if os.environ.pop(name, None) is not None]
    if overridden:
        print(f"ignoring {', '.join(overridden)}: the throwaway stacks' clients use the stacks' "
              "own credentials", file=sys.stderr)
    # SIGTERM, like Ctrl-C, unwinds through the finally below: both stacks are torn down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    began = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-transport-"))
    stacks: dict[str, Stack] = {}
    taken: set[int] = set()
    failed = True
    try:
        for side in SIDES:
            stacks[side] = Stack.make(side, taken)
            stacks[side].up()
        outcome = asyncio.run(bench(stacks, args, log_dir))
        failed = False
    finally:
        for side, stack in stacks.items():
            try:
                stack.down(log_dir / f"kafka-{side}.log" if failed else None)
            except Exception as exc:  # tear the other one down all the same
                print(f"tearing down the {side} stack: {exc}", file=sys.stderr)
        print(f"both stacks torn down{'; logs kept in ' + str(log_dir) if failed else ''}",
              flush=True)
        if not failed:
            shutil.rmtree(log_dir, ignore_errors=True)
    lines = report(outcome)
    print()
    print("\n".join(lines))
    print(f"(bench took {time.monotonic() - began:.0f}s)")
    if args.record:
        record(
            "cost of TLS and SCRAM (issue 14): `bench/transport.py`",
            "The same workloads on two throwaway stacks started by the bench in the same run: "
            "secured (SASL_SSL client listener, SCRAM-SHA-512, the stack's private CA, KRaft's "
            "StandardAuthorizer with the ACL table) and plaintext (a PLAINTEXT listener, no "
            "authorizer; development only, for this comparison). Every client from "
            "services/runtime/kafka_client.py; the bench's own as the broker's super user, intake "
            "as its own principal. Runs alternate which stack goes first.",
            command, lines)
        print("recorded in bench/RESULTS.md")


if __name__ == "__main__":
    main()
