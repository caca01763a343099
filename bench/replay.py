"""Benchmark: events per second replayed into the statistics projection, against a raw read.

Run: ``.venv/bin/python -m bench.replay [--events N] [--runs R] [--workers W] [--keep] [--record]``
with the stack up (default N = 1,000,000, R = 1).

1. Fills ``sandbox.bench.analytics.<id>.commande.situations.v1`` (a scratch copy, never the live
   topic; the simulator's principal may write only ``sandbox.`` copies) with the first N
   situation events of ``commande simulate events`` (seed 1), unless ``--reuse PREFIX`` names a
   copy filled by an earlier run.
2. **Baseline**: a raw aiokafka read of the whole range (assigned partitions, from the beginning
   to the end offsets captured at start, no decoding): the floor of any Kafka read.
3. **Replay**: :func:`services.analytics.replay.replay_facts` over the same range into the
   statistics projection (CloudEvents decoding with the contract checks, the folded types read
   as their views, the per-situation fold in place, then
   :func:`~services.analytics.projections.statistics.summarize`), as ``commande replay`` does:
   once in one process (``workers=1``), once in worker processes, a group of partitions each
   (``--workers``, default one per CPU core this process may use; process start, pickling and
   merging the stores' parts included).

Steps 2 and 3 run ``R`` times, alternating, over the same copy; prints each run's rates, the
medians and their ratios to the raw read; ``--record`` appends them to ``bench/RESULTS.md``.

``--split`` needs no stack: it times, in process, the CPU per event of each step over the
simulator's first N situation records (the minimum of ``R`` runs), for the replay's path
(:meth:`Decoder.fact`, :class:`Folder`, ``summarize``) and the envelope path before it
(:meth:`Decoder.decode`, ``Keyed(FACTS.fold)``), both in batches of 20,000 records with the
cyclic GC as the replay runs it (paused, young generation collected after each batch). The scratch
topics are deleted at the end unless ``--keep`` is given. The fill connects as the simulator's
principal, the replay as analytics' (read-only), the raw read and the clean-up as the broker's
super user (``bench.common.HARNESS``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import platform
import statistics
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from itertools import islice
from pathlib import Path

from aiokafka import TopicPartition

from bench.common import HARNESS, development_stack
from schemas.access import SANDBOX_PREFIX
from schemas.decoder import Decoder
from schemas.topics import SITUATIONS
from services.analytics.projections import FACTS, Keyed
from services.analytics.projections.facts import Folder, SituationFacts
from services.analytics.projections.statistics import summarize
from services.analytics.replay import replay_facts, resolve
from services.analytics.simulate import Plan, generate, publish
from services.analytics.stores import StatisticsStore
from services.runtime import kafka_client
from services.runtime.settings import Settings

RESULTS = Path(__file__).with_name("RESULTS.md")
EVENTS_PER_SITUATION = 7.0
"""Roughly what the simulator writes per situation on the situations topic (over-provisioned)."""


async def fill(settings: Settings, prefix: str, events: int) -> float:
    plan = Plan(situations=math.ceil(events / EVENTS_PER_SITUATION), seed=1)
    plan.check(datetime.now(UTC))
    wanted = islice((r for r in generate(plan) if r.record.topic == SITUATIONS.name), events)
    began = time.monotonic()
    written = await publish(settings, wanted, prefix=prefix)
    seconds = time.monotonic() - began
    got = written.get(prefix + SITUATIONS.name, 0)
    if got != events:
        raise SystemExit(f"the simulator gave {got} situation events, not {events}")
    return seconds


async def raw_read(settings: Settings, topic: str) -> tuple[int, float]:
    consumer = kafka_client.consumer(settings, HARNESS, group_id=None, enable_auto_commit=False,
                                     max_partition_fetch_bytes=8 * 1024 * 1024,
                                     fetch_max_bytes=64 * 1024 * 1024)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic))]
        consumer.assign(tps)
        began = time.monotonic()
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        count = 0
        while remaining:
            batch = await consumer.getmany(timeout_ms=500, max_records=20000)
            for tp, recs in batch.items():
                count += sum(1 for r in recs if r.offset < ends[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)
        return count, time.monotonic() - began
    finally:
        await consumer.stop()


async def replay_statistics(settings: Settings, topic: str,
                            workers: int) -> tuple[int, float, int, int]:
    began = time.monotonic()
    summary, report = await replay_facts(settings, resolve([topic]), partial(StatisticsStore, {}),
                                         types=FACTS.folds, workers=workers)
    return report.events, time.monotonic() - began, summary.statistics.situations, report.skipped


async def delete(settings: Settings, prefix: str) -> None:
    admin = kafka_client.admin(settings, HARNESS)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


def split(events: int, runs: int) -> None:
    """CPU per event of decoding, folding and summarizing, in process (no Kafka)."""
    wanted = (r.record for r in generate(Plan(situations=math.ceil(events / EVENTS_PER_SITUATION),
                                              seed=1)) if r.record.topic == SITUATIONS.name)
    records = [(r.headers, r.value) for r in islice(wanted, events)]
    batches = [records[i:i + 20000] for i in range(0, len(records), 20000)]
    gc.collect()
    gc.freeze()  # the input records are not the replay's: its batches come and go
    gc.disable()

    def fact_path() -> tuple[float, float, float]:
        decoder, folder, decode, fold = Decoder(SITUATIONS.name, FACTS.folds), Folder(), 0.0, 0.0
        for batch in batches:
            began = time.process_time()
            facts = [decoder.fact(headers, value) for headers, value in batch]
            decoded = time.process_time()
            for fact in facts:
                if fact is not None:
                    folder.apply(fact)
            del facts
            gc.collect(0)
            decode, fold = decode + decoded - began, fold + time.process_time() - decoded
        began = time.process_time()
        summarize(folder.drafts())
        return decode, fold, time.process_time() - began

    def envelope_path() -> tuple[float, float, float]:
        decoder, decode, fold = Decoder(SITUATIONS.name, FACTS.folds), 0.0, 0.0
        keyed: Keyed[SituationFacts] = Keyed(FACTS.fold)
        for batch in batches:
            began = time.process_time()
            envelopes = [decoder.decode(headers, value) for headers, value in batch]
            decoded = time.process_time()
            for envelope in envelopes:
                if envelope is not None:
                    keyed.apply(envelope)
            del envelopes
            gc.collect(0)
            decode, fold = decode + decoded - began, fold + time.process_time() - decoded
        began = time.process_time()
        summarize(keyed.states())
        return decode, fold, time.process_time() - began

    for name, path in (("envelopes (decode, Keyed fold)", envelope_path),
                       ("facts (Decoder.fact, Folder)", fact_path)):
        times = [path() for _ in range(runs)]
        parts = [min(t[i] for t in times) / len(records) * 1e6 for i in range(3)]
        print(f"{name}: decode {parts[0]:.2f} us, fold {parts[1]:.2f} us, summarize "
              f"{parts[2]:.2f} us per event; total {sum(parts):.2f} us "
              f"({len(records):,} records, minimum of {runs})", flush=True)
    gc.enable()
    gc.unfreeze()


async def main(args: argparse.Namespace) -> None:
    settings = development_stack(Settings())
    prefix = args.reuse or f"{SANDBOX_PREFIX}bench.analytics.{uuid.uuid4().hex[:12]}."
    topic = prefix + SITUATIONS.name
    try:
        if not args.reuse:
            fill_s = await fill(settings, prefix, args.events)
            print(f"filled {topic} with {args.events} events in {fill_s:.1f}s")
        raws: list[float] = []
        ones: list[float] = []
        reps: list[float] = []
        for run in range(args.runs):
            raw_n, raw_s = await raw_read(settings, topic)
            one_n, one_s, one_situations, _ = await replay_statistics(settings, topic, 1)
            rep_n, rep_s, situations, skipped = await replay_statistics(settings, topic,
                                                                        args.workers)
            if not raw_n == one_n == rep_n or one_situations != situations:
                raise SystemExit(f"raw read saw {raw_n} records, replays read {one_n} and "
                                 f"{rep_n} events ({one_situations} and {situations} situations)")
            raws.append(raw_n / raw_s)
            ones.append(one_n / one_s)
            reps.append(rep_n / rep_s)
            print(f"run {run + 1}: raw {raws[-1]:,.0f}/s ({raw_s:.2f}s), replay in one process "
                  f"{ones[-1]:,.0f}/s ({one_s:.2f}s), in {args.workers} workers {reps[-1]:,.0f}/s "
                  f"({rep_s:.2f}s)", flush=True)
        raw_rate, one_rate, rep_rate = (statistics.median(raws), statistics.median(ones),
                                        statistics.median(reps))
        lines = [
            f"events: {rep_n} ({situations} situations; {skipped} of types the statistics do not "
            f"fold, headers checked, bodies not decoded) on {topic}",
            f"per run (events/s, raw / replay in one process / in {args.workers} workers): "
            + "; ".join(f"{a:,.0f} / {b:,.0f} / {c:,.0f}"
                        for a, b, c in zip(raws, ones, reps, strict=True)),
            f"raw aiokafka read (one process): {raw_rate:,.0f} events/s (median of {args.runs})",
            f"replay -> statistics in one process: {one_rate:,.0f} events/s "
            f"(median of {args.runs}), ratio to raw {one_rate / raw_rate:.2f}",
            f"replay -> statistics in {args.workers} workers: {rep_rate:,.0f} events/s "
            f"(median of {args.runs}), ratio to raw {rep_rate / raw_rate:.2f}, "
            f"to one process {rep_rate / one_rate:.2f}",
        ]
        print("\n".join(lines))
        if args.record:
            with RESULTS.open("a", encoding="utf-8") as fh:
                fh.write(f"\n### analytics replay, {rep_n:,} events ({platform.python_version()}, "
                         f"{platform.machine()})\n\n"
                         f"Command: `.venv/bin/python -m bench.replay --events {args.events} "
                         f"--runs {args.runs} --workers {args.workers} --record`\n\n"
                         + "".join(f"- {line}\n" for line in lines))
    finally:
        if not args.keep:
            await delete(settings, prefix)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1, help="raw reads and replays, alternating")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="worker processes of the parallel replay (default: one per CPU)")
    parser.add_argument("--reuse", help="prefix of a scratch copy filled by an earlier --keep run "
                        f"(starts with {SANDBOX_PREFIX!r})")
    parser.add_argument("--keep", action="store_true", help="keep the scratch topics")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--split", action="store_true",
                        help="no Kafka: CPU per event of each step, in process")
    arguments = parser.parse_args()
    if arguments.split:
        split(arguments.events, arguments.runs)
    else:
        asyncio.run(main(arguments))
