"""Benchmark: referrals per second through intake as deployed, against a raw aiokafka loop.

Run: ``.venv/bin/python -m bench.intake [--count N] [--runs R] [--record] [--profile FILE]`` with
the local stack up (Kafka and PostgreSQL of ``commande stack up``; default N = 5,000, R = 3).

intake runs as its own OS process, exactly as deployed (``python -m services.cli run intake
--port P``): the bench waits for ``GET /ready`` == 200 and for both of intake's consumer groups to
have caught up, and sends it SIGTERM at the end. Each run:

1. builds N ``ReferralSubmitted`` with unique ``referral_ref`` from
   ``deploy/samples/referrals/milton-individual.json``, the subject sealed to intake's public key as
   ``commande submit`` does, the municipality cycling over Halton's so all three districts get
   work (built before the clock starts);
2. pins the end offsets of ``commande.referral-status.v1`` (its own assignment, no group),
   produces the N records to ``commande.referrals.v1`` and reads until every ref of the run has
   its ``ReferralAccepted`` (a ``ReferralRejected`` for one of them fails the bench).

Rate = N / (record timestamp of the last ``ReferralAccepted`` - the instant of the first produce).
Latency per ref = ``ReferralAccepted`` record timestamp - ``ReferralSubmitted`` record timestamp
(both CreateTime). The N records are produced up front, so that latency includes the wait in the
backlog; a short paced phase (one referral every 20 ms, well under capacity) gives the handling
latency of a service that is not behind.

Baseline: a raw aiokafka consume-and-produce loop, also its own OS process (``--raw-loop``,
connected to the same stack through its environment, as the broker's super user):
consumer group on a scratch topic, one record produced per consumed record (the same bytes) to a
second scratch topic with the runtime's producer settings, offsets committed after each batch's
acks; fed the same records and measured the same way. Runs alternate baseline / intake so the
noise of a shared machine falls on both; medians are reported. ``--record`` appends a section to
``bench/RESULTS.md``. ``--profile FILE`` runs intake under cProfile (figures then are not
representative: never recorded) and prints the top of the profile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import pstats
import signal
import socket
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import TopicPartition

from bench.common import (
    HARNESS,
    PRODUCER_SETTINGS,
    RESULTS,
    CpuMeter,
    Referrals,
    cpu_text,
    development_stack,
    machine,
    percentile,
    stack_env,
    start_raw_loop,
)
from schemas.referrals import ReferralAccepted, ReferralRejected
from schemas.topics import REFERRAL_STATUS, REFERRALS, SITUATIONS, TopicSpec
from services.runtime import kafka_client
from services.runtime.kafka import OutRecord, partitions
from services.runtime.lag import group_lag
from services.runtime.service import GATHER_BYTES, GATHER_MS
from services.runtime.settings import PROJECT_ROOT, Settings
from services.runtime.topics import ensure_topics

ACCEPTED = ReferralAccepted.ce_type.encode()
REJECTED = ReferralRejected.ce_type.encode()
INTAKE_GROUPS = (("intake", REFERRALS.name), ("intake-disclosures", SITUATIONS.name))
WARMUP = 500
PACED = 200
PACE_SECONDS = 0.02
TARGET_RATE = 1000.0
TARGET_RATIO = 0.3
# -- measuring -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """One measured run of one side."""

    side: str
    count: int
    seconds: float
    """First produce to the timestamp of the last answer."""
    latencies_ms: tuple[float, ...]
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds spent during the run, per process (group), and ``machine`` busy share."""

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


class Answers:
    """Reads ``topic`` from end offsets pinned by :meth:`pin`, with its own partition assignment."""

    def __init__(self, settings: Settings, topic: str, *, check_types: bool) -> None:
        self._settings = settings
        self._topic = topic
        self._check_types = check_types
        self._consumer = kafka_client.consumer(
            settings, HARNESS, group_id=None, enable_auto_commit=False,
            client_id=f"bench-intake-answers-{uuid.uuid4().hex[:6]}", max_poll_records=2000)
        self._tps: list[TopicPartition] = []

    async def start(self) -> None:
        await self._consumer.start()
        parts = await partitions(self._settings, HARNESS, self._topic)
        if not parts:
            raise SystemExit(f"topic {self._topic} does not exist: is the stack up?")
        self._tps = [TopicPartition(self._topic, p) for p in parts]
        self._consumer.assign(self._tps)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def pin(self) -> None:
        """Position at the partitions' ends now, before anything of the run is produced."""
        await self._consumer.seek_to_end(*self._tps)
        for tp in self._tps:
            await self._consumer.position(tp)

    async def collect(self, wanted: set[bytes], timeout: float) -> dict[bytes, int]:
        """``{key: record timestamp ms}`` of the first answer to each wanted key."""
        found: dict[bytes, int] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found) < len(wanted):
            if loop.time() > deadline:
                raise SystemExit(f"only {len(found)} of {len(wanted)} answers on {self._topic} "
                                 f"within {timeout:.0f}s")
            batch = await self._consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                for rec in recs:
                    if rec.key not in wanted or rec.key in found:
                        continue
                    if self._check_types:
                        kind = dict(rec.headers).get("ce_type")
                        if kind == REJECTED:
                            raise SystemExit(f"intake rejected {rec.key.decode()}: the bench's "
                                             f"referral is not valid any more ({rec.value[:400]!r})")
                        if kind != ACCEPTED:
                            continue
                    found[rec.key] = rec.timestamp
        return found


async def measure(side: str, producer: Any, topic: str, answers: Answers,
                  records: Sequence[OutRecord], meter: CpuMeter | None,
                  pace: float = 0.0) -> Run:
    """Produce ``records`` to ``topic`` and wait for every answer; one :class:`Run`."""
    wanted = {r.key for r in records if r.key is not None}
    assert len(wanted) == len(records), "every record needs its own key"
    await answers.pin()
    collector = asyncio.create_task(answers.collect(wanted, timeout=max(90.0, len(records) / 50)))
    if meter is not None:
        meter.start()
    began = time.time()
    futures = []
    for rec in records:
        futures.append(await producer.send(topic, rec.value, key=rec.key, headers=list(rec.headers)))
        if pace:
            await asyncio.sleep(pace)
    metas = await asyncio.gather(*futures)
    sent = {rec.key: meta.timestamp for rec, meta in zip(records, metas, strict=True)}
    found = await collector
    cpu = meter.stop() if meter is not None else {}
    last = max(found.values()) / 1000
    latencies = tuple(float(found[k] - sent[k]) for k in wanted)
    return Run(side, len(records), last - began, latencies, cpu)


# -- the processes under test ----------------------------------------------------------------


async def raw_loop(settings: Settings, source: str, sink: str, group: str, *,
                   gather: bool = False) -> None:
    """The baseline process: consume ``source`` in ``group``, produce each record to ``sink``
    (connected as the broker's super user, like the bench); its fetches ``gather`` as a routine
    consumer's do (``GATHER_MS``, ``GATHER_BYTES`` of :mod:`services.runtime.service`) when
    asked, else return at their first record."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    consumer = kafka_client.consumer(
        settings, HARNESS, source, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", max_poll_records=500, client_id="bench-intake-raw",
        fetch_min_bytes=GATHER_BYTES if gather else 1,
        fetch_max_wait_ms=GATHER_MS if gather else 500)
    producer = kafka_client.producer(settings, HARNESS, client_id="bench-intake-raw",
                                     **PRODUCER_SETTINGS)
    await consumer.start()
    await producer.start()
    ready = False
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=50, max_records=500)
            if not ready and consumer.assignment():
                print("ready", flush=True)
                ready = True
            futures = [await producer.send(sink, r.value, key=r.key, headers=list(r.headers))
                       for recs in batch.values() for r in recs]
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def start_intake(settings: Settings, port: int, log_path: Path, profile: Path | None
                       ) -> asyncio.subprocess.Process:
    """``python -m services.cli run intake`` on the stack of ``settings`` (under cProfile if
    asked), once ``/ready`` on its admin port ``port`` says 200. intake connects as its own
    principal."""
    prefix = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *prefix, "-m", "services.cli", "run", "intake", "--port", str(free_port()),
            "--admin-port", str(port),
            cwd=PROJECT_ROOT, env=stack_env(settings), stdout=log,
            stderr=asyncio.subprocess.STDOUT)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    async with httpx.AsyncClient() as client:
        while True:
            if proc.returncode is not None:
                raise SystemExit(f"intake exited with {proc.returncode}; see {log_path}")
            if loop.time() > deadline:
                raise SystemExit(f"intake not ready after 90s; see {log_path}")
            with contextlib.suppress(httpx.HTTPError):
                resp = await client.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                if resp.status_code == 200:
                    return proc
            await asyncio.sleep(0.2)


async def caught_up(settings: Settings, patience: float = 120.0) -> float:
    """Wait until intake's consumer groups have no lag; returns how long that took."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    while True:
        behind = 0
        for group, topic in INTAKE_GROUPS:
            behind += sum((await group_lag(settings, HARNESS, group, [topic])).values())
        if behind == 0:
            return loop.time() - began
        if loop.time() - began > patience:
            raise SystemExit(f"intake still {behind} records behind after {patience:.0f}s")
        await asyncio.sleep(0.25)


async def terminate(proc: asyncio.subprocess.Process, name: str,
                    sig: signal.Signals = signal.SIGTERM) -> int:
    """Send ``sig``, then wait (SIGKILL after 40 s); returns the exit code.

    uvicorn re-raises the signal once it has shut down gracefully, so intake's exit code after a
    graceful SIGTERM is -15: its log's last ``service stopped`` line is what tells.
    """
    if proc.returncode is None:
        proc.send_signal(sig)
        try:
            await asyncio.wait_for(proc.wait(), 40)
        except TimeoutError:
            print(f"{name} did not stop within 40s after {sig.name}; killing it", file=sys.stderr)
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode


# -- the bench -------------------------------------------------------------------------------


@dataclass
class Outcome:
    raw: list[Run]
    intake: list[Run]
    paced_raw: Run
    paced_intake: Run
    drains: list[float]
    """Seconds after each intake run's last ReferralAccepted until both groups had no lag."""
    size: int
    """Bytes of a referral record's value."""

    @property
    def raw_rate(self) -> float:
        return statistics.median(r.rate for r in self.raw)

    @property
    def intake_rate(self) -> float:
        return statistics.median(r.rate for r in self.intake)

    @property
    def ratio(self) -> float:
        return self.intake_rate / self.raw_rate


def median_of(runs: Sequence[Run], what: str) -> float:
    return statistics.median(float(getattr(r, what)) for r in runs)


async def bench(settings: Settings, count: int, runs: int, profile: Path | None) -> Outcome:
    tag = uuid.uuid4().hex[:8]
    source = TopicSpec(f"bench.intake.{tag}.in", "{agency_id}/{referral_ref}", "bench", "bench",
                       retention_ms=3_600_000, partitions=REFERRALS.partitions)
    sink = TopicSpec(f"bench.intake.{tag}.out", "{agency_id}/{referral_ref}", "bench", "bench",
                     retention_ms=3_600_000, partitions=REFERRAL_STATUS.partitions)
    await ensure_topics(settings, HARNESS, (source, sink))
    referrals = Referrals()
    log_path = Path(tempfile.gettempdir()) / f"bench-intake-{tag}.log"
    port = free_port()
    print(f"intake on port {port}, its log in {log_path}; scratch topics bench.intake.{tag}.*",
          flush=True)
    procs: dict[str, asyncio.subprocess.Process] = {}
    producer = kafka_client.producer(settings, HARNESS, client_id="bench-intake-partner",
                                     **PRODUCER_SETTINGS)
    status = Answers(settings, REFERRAL_STATUS.name, check_types=True)
    echoes = Answers(settings, sink.name, check_types=False)
    try:
        procs["intake"] = await start_intake(settings, port, log_path, profile)
        procs["raw"] = await start_raw_loop(settings, source.name, sink.name,
                                            f"bench.intake.{tag}.raw")
        await producer.start()
        await status.start()
        await echoes.start()
        await caught_up(settings)
        meter = CpuMeter({"intake": procs["intake"].pid, "raw": procs["raw"].pid})

        warm = referrals.make(min(WARMUP, count))
        await measure("raw", producer, source.name, echoes, warm, None)
        await measure("intake", producer, REFERRALS.name, status, warm, None)
        await caught_up(settings)
        print(f"warmed up with {len(warm)} referrals", flush=True)

        raw_runs: list[Run] = []
        intake_runs: list[Run] = []
        drains: list[float] = []
        for i in range(runs):
            records = referrals.make(count)
            raw = await measure("raw", producer, source.name, echoes, records, meter)
            raw_runs.append(raw)
            print(f"run {i + 1}: raw    {raw.rate:7.0f}/s  p50 {raw.p50:6.0f} ms  p99 "
                  f"{raw.p99:6.0f} ms  cpu {cpu_text(raw.cpu)}", flush=True)
            run = await measure("intake", producer, REFERRALS.name, status, records, meter)
            intake_runs.append(run)
            drains.append(await caught_up(settings))
            print(f"run {i + 1}: intake {run.rate:7.0f}/s  p50 {run.p50:6.0f} ms  p99 "
                  f"{run.p99:6.0f} ms  cpu {cpu_text(run.cpu)}  (own situations digested "
                  f"{drains[-1]:.1f}s later)", flush=True)

        paced = referrals.make(PACED)
        paced_raw = await measure("raw", producer, source.name, echoes, paced, None, PACE_SECONDS)
        paced_intake = await measure("intake", producer, REFERRALS.name, status, paced, None,
                                     PACE_SECONDS)
        await caught_up(settings)
        return Outcome(raw_runs, intake_runs, paced_raw, paced_intake, drains, len(warm[0].value))
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
        for reader in (status, echoes):
            with contextlib.suppress(Exception):
                await reader.stop()
        for name, proc in procs.items():
            # Under cProfile, SIGINT: the profiler writes its stats on KeyboardInterrupt, while the
            # SIGTERM uvicorn re-raises after shutting down kills the process before it can.
            sig = signal.SIGINT if name == "intake" and profile is not None else signal.SIGTERM
            code = await terminate(proc, name, sig)
            if code not in (0, -sig):
                print(f"{name} exited with {code} after {sig.name}", file=sys.stderr)
        if "intake" in procs:
            stopped = b'"service stopped"' in log_path.read_bytes()
            print(f"intake stopped {'gracefully' if stopped else 'WITHOUT its graceful stop'} "
                  f"(exit {procs['intake'].returncode})", flush=True)
        admin = kafka_client.admin(settings, HARNESS)
        with contextlib.suppress(Exception):
            await admin.start()
            await admin.delete_topics([source.name, sink.name])
        with contextlib.suppress(Exception):
            await admin.close()


def report(out: Outcome, count: int) -> list[str]:
    """The figures, as Markdown lines (also printed)."""
    raw, intake = out.raw, out.intake
    lines = [
        f"- referrals per run: {count}, runs per side: {len(intake)} (medians below); "
        f"record value {out.size} bytes",
        "- per run (referrals/s, raw / intake): "
        + "; ".join(f"{r.rate:,.0f} / {i.rate:,.0f}" for r, i in zip(raw, intake, strict=True)),
        f"- raw aiokafka consume-and-produce: **{out.raw_rate:,.0f} records/s**; latency (backlog "
        f"of N) p50 {median_of(raw, 'p50'):,.0f} ms, p99 {median_of(raw, 'p99'):,.0f} ms",
        f"- intake (consume, check, inbox + vault + outbox transaction, relay publishes): "
        f"**{out.intake_rate:,.0f} referrals/s**; latency (backlog of N) p50 "
        f"{median_of(intake, 'p50'):,.0f} ms, p99 {median_of(intake, 'p99'):,.0f} ms",
        f"- ratio intake/raw: **{out.ratio:.2f}**",
        f"- paced, {PACED} records at {1 / PACE_SECONDS:.0f}/s (handling latency when not behind): "
        f"raw p50 {out.paced_raw.p50:.0f} ms, p99 {out.paced_raw.p99:.0f} ms; intake p50 "
        f"{out.paced_intake.p50:.0f} ms, p99 {out.paced_intake.p99:.0f} ms",
        "- CPU seconds during the median-rate run: raw: " + cpu_text(_median_run(raw).cpu)
        + "; intake: " + cpu_text(_median_run(intake).cpu),
        f"- after each intake run, its own SituationOpened were digested by `intake-disclosures` "
        f"{', '.join(f'{d:.1f}' for d in out.drains)} s after the last ReferralAccepted (not timed)",
    ]
    met = out.intake_rate >= TARGET_RATE and out.ratio >= TARGET_RATIO
    lines.append(f"- target (>= {TARGET_RATE:,.0f} referrals/s and >= {TARGET_RATIO} of raw): "
                 + ("**met**" if met else "**not met**"))
    return lines


def _median_run(runs: Sequence[Run]) -> Run:
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


def record(lines: list[str], command: str) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = [
        "", f"## intake throughput (issue 4 item 8): `bench/intake.py`, {now}", "",
        "Referrals per second through intake run as deployed (its own process, `commande run "
        "intake`): consume `commande.referrals.v1`, open the sealed subject, Filter 1, one "
        "transaction with inbox + referral + situation + vault + outbox rows, relay publishes "
        "`SituationOpened` + `ReferralAccepted`; timed from the first produce to the last "
        "`ReferralAccepted`. Baseline: a raw aiokafka consume-and-produce loop (its own process, "
        "one record out per record in, same bytes) on the same broker. Both run while the broker "
        "and PostgreSQL share the machine; latencies under \"backlog of N\" include the wait "
        "behind the N records produced up front.", "",
        f"Machine: {machine()}; shared with the Kafka broker, PostgreSQL and other sessions' work.",
        "", f"Command: `{command}`", "", *lines, "",
    ]
    section = [textwrap.fill(line, 100, break_on_hyphens=False, break_long_words=False)
               if not line.startswith(("-", "#")) else line for line in section]
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    RESULTS.write_text(text.rstrip("\n") + "\n" + "\n".join(section))


def show_profile(path: Path) -> None:
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000, help="referrals per run (default 5000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per side (default 3)")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--profile", type=Path, help="run intake under cProfile, stats to FILE")
    parser.add_argument("--raw-loop", nargs=3, metavar=("SOURCE", "SINK", "GROUP"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_loop:  # the stack to connect to comes in the environment (bench.common.stack_env)
        asyncio.run(raw_loop(development_stack(Settings()), *args.raw_loop))
        return
    if args.count < 1 or args.runs < 1:
        parser.error("--count and --runs must be at least 1")
    if args.record and args.profile:
        parser.error("a profiled run is slowed by the profiler: it is never recorded")
    command = " ".join([".venv/bin/python -m bench.intake", *sys.argv[1:]])
    began = time.monotonic()
    outcome = asyncio.run(bench(development_stack(Settings()), args.count, args.runs, args.profile))
    lines = report(outcome, args.count)
    print()
    print("\n".join(lines))
    print(f"(bench took {time.monotonic() - began:.0f}s)")
    if args.profile:
        show_profile(args.profile)
    if args.record:
        record(lines, command)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
