"""Benchmark: the Kafka client's floor under one hop of a service, aiokafka against librdkafka.

Run: ``.venv/bin/python -m bench.kafka_floor [--seconds S] [--runs R] [--record]`` with the local
stack up (``commande stack up``; default S = 20, R = 3). The librdkafka side needs
``confluent-kafka``, which is **not** a dependency of the project (this bench measures whether it
should become one): ``.venv/bin/pip install confluent-kafka==2.16.1``; without it the bench
measures aiokafka alone and says so.

A hop is what every service does under its own code: consume a record, produce one record, commit
the offset once the produce is acknowledged. Each client runs that loop as its own OS process
(``--loop``; aiokafka's is ``bench.intake``'s raw loop, the other benches' baseline), connected as
the broker's super user (:data:`bench.common.HARNESS`, credentials and CA from
:mod:`services.runtime.kafka_client`), from a scratch topic to another (6 partitions, as the
registry's topics), with the runtime's producer settings (idempotent, ``linger_ms`` 2). The bench
produces 1 KB records at a steady rate, reads them back from the second topic, and reads the loop's
CPU from ``/proc`` over the run. Two loads, the two a service's consumers see:

* **alone**: 20 records/s, each fetched as soon as it comes (``fetch_min_bytes`` 1): a record on
  an urgent lane, which never waits for company (ADR 0006);
* **gathered**: 220 records/s, fetches held by the broker for up to ``GATHER_MS`` until
  ``GATHER_BYTES`` have come, as the routine consumers of ``services.runtime.service`` do.

Runs alternate the clients; figures are medians of R runs: CPU ms per record (the loop's process,
start-up excluded) and latency produce -> read back, p50 and p99. The ratio is librdkafka /
aiokafka of the same scenario's medians. ``--record`` appends a section to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.common import (
    HARNESS,
    PRODUCER_SETTINGS,
    cpu_seconds,
    development_stack,
    percentile,
    record,
    stack_env,
)
from bench.intake import raw_loop
from services.runtime import kafka_client
from services.runtime.service import GATHER_BYTES, GATHER_MS, POLL_MS
from services.runtime.settings import PROJECT_ROOT, Settings
from services.runtime.tls import trusted_ca

CLIENTS = ("aiokafka", "librdkafka")
PARTITIONS = 6
RECORD_BYTES = 1024
MAX_RECORDS = 500


@dataclass(frozen=True)
class Scenario:
    name: str
    rate: float
    gather: bool


SCENARIOS = (Scenario("alone", 20.0, False), Scenario("gathered", 220.0, True))


@dataclass(frozen=True)
class Run:
    cpu_ms: float
    """The loop's CPU per record."""
    p50: float
    p99: float


# -- the loops (each its own process) ----------------------------------------------------------


def librdkafka_config(settings: Settings) -> dict[str, Any]:
    """librdkafka's properties for the bench's principal, from the same settings and credentials
    as :func:`services.runtime.kafka_client.connection`."""
    opts = kafka_client.connection(settings, HARNESS)
    config: dict[str, Any] = {"bootstrap.servers": ",".join(opts["bootstrap_servers"]),
                              "security.protocol": opts["security_protocol"]}
    ca_file = trusted_ca(settings, settings.kafka_ca_file, "COMMANDE_KAFKA_CA_FILE")
    if opts["security_protocol"] != "PLAINTEXT" and ca_file is not None:
        config["ssl.ca.location"] = str(ca_file)
    if settings.kafka_cert_file is not None and settings.kafka_key_file is not None:
        config.update({"ssl.certificate.location": str(settings.kafka_cert_file),
                       "ssl.key.location": str(settings.kafka_key_file)})
    if "sasl_mechanism" in opts:
        config.update({"sasl.mechanism": opts["sasl_mechanism"],
                       "sasl.username": opts["sasl_plain_username"],
                       "sasl.password": opts["sasl_plain_password"]})
    return config


def librdkafka_loop(settings: Settings, source: str, sink: str, group: str,
                    gather: bool) -> None:
    from confluent_kafka import Consumer, Producer

    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    config = librdkafka_config(settings)
    consumer = Consumer({
        **config, "group.id": group, "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.min.bytes": GATHER_BYTES if gather else 1,
        "fetch.wait.max.ms": GATHER_MS if gather else 500})
    producer = Producer({**config, "enable.idempotence": True,
                         "linger.ms": PRODUCER_SETTINGS["linger_ms"]})
    consumer.subscribe([source])
    ready = False
    try:
        while not stopping:
            # poll waits for the first record; consume(timeout=0) takes what has come with it
            # (consume alone would wait its whole timeout for a full batch).
            first = consumer.poll(POLL_MS / 1000)
            if not ready and consumer.assignment():
                print("ready", flush=True)
                ready = True
            if first is None:
                continue
            batch = [first, *consumer.consume(num_messages=MAX_RECORDS - 1, timeout=0)]
            for msg in batch:
                if msg.error() is None:
                    producer.produce(sink, msg.value(), key=msg.key())
            producer.flush()
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()


# -- the harness --------------------------------------------------------------------------------


async def one_run(settings: Settings, client: str, scenario: Scenario, seconds: float) -> Run:
    """A run on scratch topics of its own, deleted after it."""
    from aiokafka.admin import NewTopic

    tag = uuid.uuid4().hex[:8]
    topics = [f"bench.kafka-floor.{tag}.in", f"bench.kafka-floor.{tag}.out"]
    admin = kafka_client.admin(settings, HARNESS)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics])
        return await measure(settings, client, scenario, seconds, *topics,
                             group=f"bench.kafka-floor.{tag}")
    finally:
        await admin.delete_topics(topics)
        await admin.close()


async def measure(settings: Settings, client: str, scenario: Scenario, seconds: float,
                  source: str, sink: str, *, group: str) -> Run:
    """One run of ``client``'s loop from ``source`` to ``sink`` (its consumer group ``group``)
    under ``scenario``."""
    loop = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.kafka_floor", "--loop", client, source, sink, group,
        *(["--gather"] if scenario.gather else []),
        cwd=PROJECT_ROOT, env=stack_env(settings), stdout=asyncio.subprocess.PIPE)
    assert loop.stdout is not None
    if (await asyncio.wait_for(loop.stdout.readline(), 60)).strip() != b"ready":
        raise SystemExit(f"the {client} loop did not start (exit {loop.returncode})")
    producer = kafka_client.producer(settings, HARNESS, linger_ms=0)
    reader = kafka_client.consumer(settings, HARNESS, sink, group_id=None,
                                   auto_offset_reset="earliest")
    await producer.start()
    await reader.start()
    try:
        count = int(scenario.rate * seconds)
        latencies: list[float] = []

        async def read_back() -> None:
            while len(latencies) < count:
                for records in (await reader.getmany(timeout_ms=200)).values():
                    now = time.time() * 1000
                    latencies.extend(now - float(r.value[:16]) for r in records)

        padding = b" " * (RECORD_BYTES - 16)
        before = cpu_seconds(loop.pid)
        reading = asyncio.create_task(read_back())
        began = time.monotonic()
        for i in range(count):
            stamp = f"{time.time() * 1000:16.3f}".encode()
            await producer.send(source, stamp + padding, key=str(i).encode())
            await asyncio.sleep(max(0.0, began + (i + 1) / scenario.rate - time.monotonic()))
        await asyncio.wait_for(reading, 60)
        spent = cpu_seconds(loop.pid) - before
    finally:
        await reader.stop()
        await producer.stop()
        loop.terminate()
        await loop.wait()
    return Run(1000 * spent / count, percentile(latencies, 50), percentile(latencies, 99))


def available() -> tuple[str, ...]:
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        print("confluent-kafka is not installed: aiokafka alone (pip install "
              "confluent-kafka==2.16.1 for the comparison)", flush=True)
        return CLIENTS[:1]
    return CLIENTS


async def bench(seconds: float, runs: int) -> dict[tuple[str, str], list[Run]]:
    settings = development_stack(Settings())
    clients = available()
    results: dict[tuple[str, str], list[Run]] = {}
    for scenario in SCENARIOS:
        for i in range(runs):
            order = clients if i % 2 == 0 else tuple(reversed(clients))
            for client in order:
                run = await one_run(settings, client, scenario, seconds)
                results.setdefault((scenario.name, client), []).append(run)
                print(f"{scenario.name} run {i + 1} {client}: cpu {run.cpu_ms:.3f} ms/record, "
                      f"p50 {run.p50:.0f} ms, p99 {run.p99:.0f} ms", flush=True)
    return results


def summary(results: dict[tuple[str, str], list[Run]]) -> list[str]:
    lines = []
    for scenario in SCENARIOS:
        medians: dict[str, float] = {}
        for client in CLIENTS:
            runs = results.get((scenario.name, client))
            if not runs:
                continue
            medians[client] = statistics.median(r.cpu_ms for r in runs)
            lines.append(
                f"- {scenario.name} ({scenario.rate:.0f} records/s), {client}: "
                f"**{medians[client]:.2f} ms CPU per record** "
                f"({', '.join(f'{r.cpu_ms:.2f}' for r in runs)}); latency p50 "
                f"{statistics.median(r.p50 for r in runs):.0f} ms, p99 "
                f"{statistics.median(r.p99 for r in runs):.0f} ms")
        if len(medians) == len(CLIENTS):
            lines.append(f"- {scenario.name}: ratio librdkafka / aiokafka "
                         f"**{medians['librdkafka'] / medians['aiokafka']:.2f}**")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kafka_floor", description=(
        "The Kafka client's CPU per record under one hop (consume, produce, commit), aiokafka "
        "against librdkafka, for a record alone and for gathered batches."))
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument("--runs", type=int, default=3, help="runs per client and scenario")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--loop", nargs=4, metavar=("CLIENT", "SOURCE", "SINK", "GROUP"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--gather", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loop:
        client, source, sink, group = args.loop
        settings = Settings()
        if client == "aiokafka":
            asyncio.run(raw_loop(settings, source, sink, group, gather=args.gather))
        else:
            librdkafka_loop(settings, source, sink, group, args.gather)
        return
    lines = summary(asyncio.run(bench(args.seconds, args.runs)))
    print("\n".join(lines))
    if args.record:
        record("The Kafka client's floor: aiokafka against librdkafka (issue 18)",
               "CPU per record of a raw consume-produce-commit hop in its own process, a record "
               "alone (an urgent lane) and gathered (a routine consumer).",
               f"python -m bench.kafka_floor --seconds {args.seconds:g} --runs {args.runs}",
               lines)


if __name__ == "__main__":
    main()
