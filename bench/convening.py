"""Benchmark: situations routed and scheduled per second by convening, on the real stack.

Run: ``.venv/bin/python -m bench.convening [N]`` (default 2000) with the stack up.

1. Publishes N synthetic ``SituationOpened`` (three districts, opened at random instants over two
   years ahead of a random far-future clock, so meetings hold about ten situations each and no
   real meeting is touched) to ``commande.situations.v1``.
2. **Baseline**: a raw aiokafka loop reads those N records (assigned partitions, from the offsets
   before publishing), decodes each CloudEvent and produces one record per input to a scratch
   topic, waiting for the acks of each batch. That is the floor of a consume-decide-produce loop
   without a database.
3. **convening**: the real service (``services.convening.main.build``, in consumer groups of
   the bench's own committed at the topics' ends) handles the same backlog: inbox, routing,
   placement, participants, invitations, state and outbox rows in PostgreSQL per batch. Timed
   from its first committed situation to the last, and to the outbox relay having published
   everything.

Prints both rates and their ratio. The bench's own clients connect as the broker's super user
(``bench.common.HARNESS``); convening connects as its own principal (its bench groups start with
``convening``, which its ACL row allows).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import NewTopic
from uuid6 import uuid7

from bench.common import HARNESS, development_stack
from schemas.referrals import SituationSummary
from schemas.situations import SituationOpened
from schemas.topics import SITUATIONS, TABLE_ACTIONS
from services.convening.main import build
from services.convening.settings import ConveningSettings
from services.runtime import kafka_client
from services.runtime.clock import ManualClock
from services.runtime.events import decode, emit
from services.runtime.kafka import InRecord, OutRecord, Producer
from services.runtime.settings import Settings
from tests.support.kafka import group_at_end
from tests.support.samples import sample, summary

TOWNS = (("milton", "district_1"), ("oakville", "district_2"), ("burlington", "district_3"))


def situations(n: int, base: datetime) -> list[SituationOpened]:
    out = []
    for _ in range(n):
        town, district = random.choice(TOWNS)
        sid = uuid7()
        opened_at = base + timedelta(seconds=random.randint(0, 2 * 365 * 24 * 3600))
        out.append(sample(
            SituationOpened, situation_id=sid, referral_ref=f"BENCH-{sid.hex[:12]}",
            district=district, opened_at=opened_at,
            summary=SituationSummary(**{**summary().model_dump(), "municipality": town})))
    return out


async def raw_consumer(settings: Settings, topic: str) -> AIOKafkaConsumer:
    """A consumer assigned to every partition of ``topic``, positioned at the end now."""
    consumer: AIOKafkaConsumer = kafka_client.consumer(
        settings, HARNESS, group_id=None, enable_auto_commit=False, max_poll_records=500)
    await consumer.start()
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)
    return consumer


async def baseline(settings: Settings, consumer: AIOKafkaConsumer, n: int) -> float:
    """Raw aiokafka: consume, decode, produce one record each; returns records per second."""
    scratch = f"bench.convening-baseline.{uuid.uuid4().hex[:8]}"
    admin = kafka_client.admin(settings, HARNESS)
    await admin.start()
    await admin.create_topics([NewTopic(scratch, num_partitions=6, replication_factor=1)])
    producer = kafka_client.producer(settings, HARNESS, enable_idempotence=True, linger_ms=2)
    await producer.start()
    try:
        done = 0
        began: float | None = None
        while done < n:
            batch = await consumer.getmany(timeout_ms=500)
            if began is None and batch:
                began = time.perf_counter()
            futures = []
            for recs in batch.values():
                for rec in recs:
                    env = decode(InRecord.from_consumer_record(rec))
                    if not isinstance(env.event, SituationOpened):
                        continue
                    done += 1
                    futures.append(await producer.send(scratch, rec.value, key=rec.key))
            await asyncio.gather(*futures)
        assert began is not None
        return n / (time.perf_counter() - began)
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.delete_topics([scratch])
        await admin.close()


async def convening(settings: ConveningSettings, clock: ManualClock, ids: list[UUID]) -> tuple[float, float]:
    """The real service on the backlog; returns (committed per second, published per second)."""
    pool = await asyncpg.create_pool(settings.database_url.get_secret_value(), min_size=1, max_size=2)
    assert pool is not None
    svc = build(settings, clock=clock)
    await svc.faststream.start()
    try:
        began: float | None = None
        seen_at_start = 0
        while True:
            count = await pool.fetchval(
                "SELECT count(*) FROM convening.situations WHERE situation_id = ANY($1::uuid[])", ids)
            now = time.perf_counter()
            if began is None and count:
                began, seen_at_start = now, count
            if count >= len(ids):
                committed = now
                break
            await asyncio.sleep(0.02)
        while await svc.relay.backlog():  # noqa: ASYNC110 (the backlog lives in PostgreSQL)
            await asyncio.sleep(0.02)
        published = time.perf_counter()
        assert began is not None
        handled = len(ids) - seen_at_start
        return handled / (committed - began), handled / (published - began)
    finally:
        await svc.faststream.stop()
        await pool.close()


async def main(n: int) -> None:
    base = datetime.now(UTC) + timedelta(days=random.randint(30_000, 2_500_000))
    clock = ManualClock(base)
    events = situations(n, base)

    # Consumer groups of the bench's own, at the topics' ends: the service handles only the
    # bench's situations, whatever backlog the real groups have.
    tag = uuid.uuid4().hex[:8]
    settings = development_stack(ConveningSettings(situations_group=f"convening-bench-{tag}",
                                                   commands_group=f"convening-commands-bench-{tag}"))
    for group, topic in ((settings.situations_group, SITUATIONS.name),
                         (settings.commands_group, TABLE_ACTIONS.name)):
        await group_at_end(settings, group, [topic])

    consumer = await raw_consumer(settings, SITUATIONS.name)
    producer = Producer(settings, HARNESS, client_id="bench-convening")
    await producer.start()
    records: list[OutRecord] = [emit(e, source="/bench/convening") for e in events]
    for i in range(0, n, 500):
        await producer.send_many(records[i:i + 500])
    await producer.stop()

    raw = await baseline(settings, consumer, n)
    committed, published = await convening(settings, clock, [e.situation_id for e in events])
    print(f"situations: {n}")
    print(f"baseline (raw aiokafka consume-decode-produce): {raw:8.0f} /s")
    print(f"convening, committed (state + outbox in PostgreSQL): {committed:8.0f} /s")
    print(f"convening, published by the outbox relay:            {published:8.0f} /s")
    print(f"ratio convening/baseline: {committed / raw:.2f} (committed), {published / raw:.2f} "
          "(published)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
