"""The runtime's promises, on the real Kafka and PostgreSQL.

A throwaway service (its own schema and topic) stands in for a real one, so these tests exercise
only the shared machinery: inbox, outbox relay, dead-lettering, retry on a database outage.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import NewPartitions, RecordsToDelete

from deploy.local import postgres
from schemas.errors import TransientError
from schemas.topics import DLQ
from services.runtime import kafka_client
from services.runtime.consumer import Consumer
from services.runtime.kafka import MAX_RECORD_BYTES, InRecord, OutRecord, Producer, partitions_of
from services.runtime.lag import LagReader, group_lag
from services.runtime.outbox import OutboxRelay
from services.runtime.settings import Settings
from services.runtime.worker import run
from tests.support.items import ItemService, decode, record, scratch_topics
from tests.support.kafka import HARNESS, end_offsets, group_at_end, read_all, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def topics(settings: Settings) -> tuple[str, str]:
    return await scratch_topics(settings)


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[Producer]:
    prod = Producer(settings, HARNESS)
    await prod.start()
    yield prod
    await prod.stop()


@pytest.fixture
async def running(settings: Settings, tmp_path: Path,
                  topics: tuple[str, str]) -> AsyncIterator[ItemService]:
    svc = ItemService(settings, tmp_path, *topics)
    await svc.service.faststream.start()
    yield svc
    await svc.service.faststream.stop()


async def test_migrations_are_recorded_and_applied_once(running: ItemService,
                                                        admin_db: asyncpg.Pool) -> None:
    from services.runtime import db

    rows = await admin_db.fetch(
        f"SELECT source, version, name FROM {running.schema}.schema_migrations ORDER BY source")
    assert {(r["source"], r["version"]) for r in rows} == {
        ("runtime", 1), ("runtime", 2), ("runtime", 3), ("runtime", 4),
        (running.schema, 1)}
    again = await db.migrate(running.service.pool, running.schema, {"runtime": Path(
        "services/runtime/sql")})
    assert again == []


@asynccontextmanager
async def _partner(settings: Settings) -> AsyncIterator[Any]:
    """A plain aiokafka producer: it names each record's partition."""
    producer = kafka_client.producer(settings, HARNESS)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def test_a_handled_batch_commits_only_the_partitions_it_came_from(
        settings: Settings, tmp_path: Path) -> None:
    topic, out = await scratch_topics(settings, partitions=3)
    svc = ItemService(settings, tmp_path, topic, out)
    async with _partner(settings) as partner:
        for n, partition in ((1, 0), (2, 0), (3, 2)):
            item = record(topic, n)
            await partner.send_and_wait(topic, item.value, key=item.key, partition=partition,
                                        headers=list(item.headers))
    admin = kafka_client.admin(settings, HARNESS)
    await admin.start()
    await svc.service.faststream.start()
    try:
        async def committed() -> dict[int, int] | None:
            offsets = await admin.list_consumer_group_offsets(svc.schema)
            found = {tp.partition: meta.offset for tp, meta in offsets.items()
                     if tp.topic == topic and meta.offset >= 0}
            return found if await svc.numbers() == [1, 2, 3] and len(found) >= 2 else None

        assert await wait_for(committed) == {0: 2, 2: 1}, (
            "each partition past its last handled record; partition 1 (no record) never named")
    finally:
        await svc.service.faststream.stop()
        await admin.close()


async def test_lag_counts_a_partition_never_committed_from_its_first_kept_record(
        settings: Settings) -> None:
    topic, _ = await scratch_topics(settings, partitions=2)
    tp = TopicPartition(topic, 0)
    async with _partner(settings) as partner:
        for _ in range(3):
            await partner.send_and_wait(topic, b"{}", key=b"k", partition=0)
        await partner.send_and_wait(topic, b"{}", key=b"k", partition=1)
    admin = kafka_client.admin(settings, HARNESS)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(before_offset=2)})  # retention, say
    finally:
        await admin.close()

    lag = await group_lag(settings, HARNESS, f"test-lag-{uuid.uuid4().hex[:8]}", [topic])

    assert lag == {(topic, 0): 1, (topic, 1): 1}, "what a new group would read, no more"


async def _two_partitions(admin: Any, topic: str) -> bool:
    return len((await partitions_of(admin, [topic])).get(topic, [])) == 2


async def test_a_kept_lag_reader_follows_new_records_commits_and_partitions(
        settings: Settings) -> None:
    topic, _ = await scratch_topics(settings)
    group = f"test-lag-{uuid.uuid4().hex[:8]}"
    reader = LagReader(settings, HARNESS)
    admin = kafka_client.admin(settings, HARNESS)
    await admin.start()
    try:
        async with _partner(settings) as partner:
            await partner.send_and_wait(topic, b"{}", key=b"k", partition=0)
            first = await reader.read(group, [topic])
            await group_at_end(settings, group, [topic])  # committed: 1
            await partner.send_and_wait(topic, b"{}", key=b"k", partition=0)
        await admin.create_partitions({topic: NewPartitions(total_count=2)})
        await wait_for(lambda: _two_partitions(admin, topic))
        async with _partner(settings) as partner:  # a producer that knows the new partition
            for _ in range(3):
                await partner.send_and_wait(topic, b"{}", key=b"k", partition=1)
        second = await reader.read(group, [topic])
    finally:
        await reader.close()
        await admin.close()

    assert first == {(topic, 0): 1}
    assert second == {(topic, 0): 1, (topic, 1): 3}, "the second read sees what changed since"
    with pytest.raises(TransientError, match="closed"):
        await reader.read(group, [topic])


async def test_a_duplicate_delivery_changes_nothing(running: ItemService, topics: tuple[str, str],
                                                    settings: Settings) -> None:
    consumer = Consumer(f"{running.schema}-direct", running.schema, running.service.pool,
                        running.service.producer, decode, running.handle)
    rec = InRecord(topics[0], 0, 0, b"k", json.dumps({"n": 7}).encode(),
                   (("ce_id", b"dup-1"), ("ce_source", b"/test")))
    await consumer.process([rec])
    await consumer.process([rec])
    assert await running.numbers() == [7]
    async with running.service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
    out = await wait_for(lambda: _values(settings, topics[1]))
    assert out == [70]


async def _values(settings: Settings, topic: str) -> list[int]:
    return [json.loads(r.value)["n"] for r in await read_all(settings, topic)]


async def test_a_poison_message_goes_to_the_dlq_and_the_partition_keeps_flowing(
        running: ItemService, producer: Producer, topics: tuple[str, str],
        settings: Settings) -> None:
    poison = OutRecord(topic=topics[0], key=b"k", value=b"\xff not json",
                       headers=(("ce_source", b"/test"),))
    await producer.send_many([record(topics[0], 1), poison, record(topics[0], 2)])
    assert await wait_for(lambda: _equals(running.numbers(), [1, 2])) is True
    dlq = [r for r in await read_all(settings, DLQ.name)
           if dict(r.headers).get("orig_topic") == topics[0].encode()]
    assert len(dlq) == 1
    headers = dict(dlq[0].headers)
    assert dlq[0].value == poison.value
    assert headers["orig_partition"] == b"0"
    assert headers["orig_offset"] == b"1"
    assert b"missing ce_id" in headers["error"]
    assert await wait_for(lambda: _values(settings, topics[1])) == [10, 20]


async def _equals(awaitable, expected) -> bool:  # type: ignore[no-untyped-def]
    return bool(await awaitable == expected)


@asynccontextmanager
async def _outbox_of(settings: Settings, tmp_path: Path, topics: tuple[str, str],
                     rows: int) -> AsyncIterator[tuple[ItemService, asyncpg.Pool]]:
    """A stopped service's schema (no relay running) with ``rows`` outbox rows for
    ``topics[1]`` (``e0``, ``e1``, ...), and a pool on it."""
    from services.runtime import outbox

    svc = ItemService(settings, tmp_path, *topics)
    await svc.service.faststream.start()
    await svc.service.faststream.stop()
    pool = await asyncpg.create_pool(settings.database_url.get_secret_value(),
                                     server_settings={"search_path": svc.schema})
    try:
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, svc.schema, [record(topics[1], n, event_id=f"e{n}")
                                                for n in range(rows)])
        yield svc, pool
    finally:
        await pool.close()


async def test_a_relay_killed_between_publish_and_mark_sent_publishes_again(
        settings: Settings, tmp_path: Path, topics: tuple[str, str], producer: Producer) -> None:
    async with _outbox_of(settings, tmp_path, topics, 5) as (svc, pool):

        class CrashAfterPublish(Producer):
            async def send_many(self, records: Sequence[OutRecord]) -> None:
                await super().send_many(records)
                raise TransientError("simulated crash after publish, before mark-sent")

        crashing = CrashAfterPublish(settings, HARNESS)
        await crashing.start()
        with pytest.raises(TransientError):
            await OutboxRelay(pool, crashing, svc.schema, batch=3).drain()
        await crashing.stop()
        assert await _values(settings, topics[1]) == [0, 1, 2]

        assert await OutboxRelay(pool, producer, svc.schema, batch=3).drain() == 5
        records = await read_all(settings, topics[1])
        ids = [dict(r.headers)["ce_id"].decode() for r in records]
        assert ids == ["e0", "e1", "e2", "e0", "e1", "e2", "e3", "e4"]
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0


async def test_one_instance_publishes_at_a_time_each_row_once_in_seq_order(
        settings: Settings, tmp_path: Path, topics: tuple[str, str], producer: Producer) -> None:
    """The relay's transaction lock: while another transaction holds it nothing is published;
    two relays (two instances) running at once take turns between batches, so every row is
    published once, in ``seq`` order."""
    svc = ItemService(settings, tmp_path, *topics)
    await svc.service.faststream.start()
    await svc.service.faststream.stop()  # tables exist; no relay running now
    pool = await asyncpg.create_pool(settings.database_url.get_secret_value(),
                                     server_settings={"search_path": svc.schema})
    other = Producer(settings, HARNESS)
    await other.start()
    stopping = asyncio.Event()
    try:
        from services.runtime import outbox

        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, svc.schema, [record(topics[1], n, event_id=f"e{n}")
                                                for n in range(20)])
        async with pool.acquire() as holder, holder.transaction():
            assert await holder.fetchval(outbox.LOCK_AND_FETCH, 0, False,  # the lock, no rows
                                          svc.schema) is True
            assert await OutboxRelay(pool, producer, svc.schema, batch=3).drain() == 0
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 20

        relays = [OutboxRelay(pool, prod, svc.schema, batch=3) for prod in (producer, other)]
        tasks = [asyncio.create_task(run(f"relay-{i}", pool, stopping, relay.publish,
                                         interval=0.01))
                 for i, relay in enumerate(relays)]
        for _ in range(200):
            if not await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"):
                break
            await asyncio.sleep(0.05)
        stopping.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        records = await read_all(settings, topics[1])
        assert [dict(r.headers)["ce_id"].decode() for r in records] == [
            f"e{n}" for n in range(20)]
    finally:
        stopping.set()
        await other.stop()
        await pool.close()


async def test_urgent_rows_have_a_relay_pass_no_routine_batch_holds_back(
        settings: Settings, tmp_path: Path, topics: tuple[str, str], producer: Producer) -> None:
    """A lane's copies written after a routine backlog are published by the urgent pass while
    another instance holds the routine pass (publishing a batch); each topic gets its rows in
    ``seq`` order (docs/adr/0006)."""
    svc = ItemService(settings, tmp_path, *topics)
    await svc.service.faststream.start()
    await svc.service.faststream.stop()  # tables exist; no relay running now
    pool = await asyncpg.create_pool(settings.database_url.get_secret_value(),
                                     server_settings={"search_path": svc.schema})
    lane, main = topics
    try:
        from services.runtime import outbox

        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, svc.schema, [record(main, n, event_id=f"m{n}")
                                                for n in range(5)])
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, svc.schema, [
                replace(record(lane, n, event_id=f"u{n}"), urgent=True) for n in range(2)])
        relay = OutboxRelay(pool, producer, svc.schema, batch=3)
        async with pool.acquire() as holder, holder.transaction():
            assert await holder.fetchval(outbox.LOCK_AND_FETCH, 0, False,  # the lock, no rows
                                          outbox.pass_lock(svc.schema, False))
            assert await relay.publish() is False  # the routine pass is another instance's
            assert await relay.publish(urgent=True) is False  # not a full batch: all published
        sent = await pool.fetch("SELECT headers FROM outbox WHERE sent_at IS NOT NULL")
        assert sorted(json.loads(r["headers"])[0][1] for r in sent) == ["u0", "u1"]

        assert await relay.drain() == 5
        ids = {t: [dict(r.headers)["ce_id"].decode() for r in await read_all(settings, t)]
               for t in topics}
        assert ids == {lane: ["u0", "u1"], main: ["m0", "m1", "m2", "m3", "m4"]}
    finally:
        await pool.close()


async def test_a_commit_wakes_only_the_relay_passes_it_wrote_rows_for(
        settings: Settings, tmp_path: Path, topics: tuple[str, str]) -> None:
    """A routine batch's commit notifies the routine pass's channel, a lane copy's the urgent
    pass's, a transaction with both both: no pass runs a transaction to find nothing."""
    from services.runtime import outbox

    lane, main = topics
    heard: list[str] = []
    async with _outbox_of(settings, tmp_path, topics, 0) as (svc, pool):
        routine, urgent = (outbox.channel(svc.schema, urgent=u) for u in (False, True))
        assert routine != urgent
        listener = await asyncpg.connect(settings.database_url.get_secret_value())
        try:
            for name in (routine, urgent):
                await listener.add_listener(
                    name, lambda _conn, _pid, channel, _payload: heard.append(channel))

            async def commit(*records: OutRecord) -> list[str]:
                heard.clear()
                async with pool.acquire() as conn, conn.transaction():
                    await outbox.add(conn, svc.schema, records)
                await listener.execute("SELECT 1")  # the server sends them before its answer,
                await asyncio.sleep(0.05)  # asyncpg calls the listeners soon after
                return sorted(heard)

            assert await commit(record(main, 1)) == [routine]
            assert await commit(replace(record(lane, 2), urgent=True)) == [urgent]
            assert await commit(record(main, 3), replace(record(lane, 3), urgent=True)) == (
                sorted([routine, urgent]))
        finally:
            await listener.close()


async def test_an_outbox_row_kafka_cannot_take_is_dead_lettered_and_the_rest_published(
        settings: Settings, tmp_path: Path, topics: tuple[str, str], producer: Producer) -> None:
    svc = ItemService(settings, tmp_path, *topics)
    await svc.service.faststream.start()
    await svc.service.faststream.stop()  # tables exist; no relay running now
    pool = await asyncpg.create_pool(settings.database_url.get_secret_value(),
                                     server_settings={"search_path": svc.schema})
    try:
        from services.runtime import outbox

        huge = OutRecord(topics[1], b"x" * MAX_RECORD_BYTES, b"k", (("ce_id", b"e-huge"),))
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, svc.schema, [record(topics[1], 1, event_id="e1"), huge,
                                                record(topics[1], 2, event_id="e2")])
        dlq_since = await end_offsets(settings, DLQ.name)
        assert await OutboxRelay(pool, producer, svc.schema, batch=10).drain() == 3
        assert await _values(settings, topics[1]) == [1, 2]
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
        (letter,) = [r for r in await read_all(settings, DLQ.name, since=dlq_since)
                     if dict(r.headers).get("ce_id") == b"e-huge"]
        assert dict(letter.headers)["dlq_value"] == b"stub"
        assert dict(letter.headers)["error_consumer"] == f"{svc.schema}-outbox".encode()
    finally:
        await pool.close()


async def test_housekeeping_prunes_the_inbox_past_its_window_and_the_services_own_bookkeeping(
        settings: Settings, tmp_path: Path, topics: tuple[str, str]) -> None:
    svc = ItemService(settings, tmp_path, *topics)
    svc.service.prune("items", "DELETE FROM items WHERE n < $1", 10)
    await svc.service.faststream.start()
    try:
        async with svc.service.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO inbox (consumer, source, event_id, handled_at) VALUES "
                "('c', '/s', 'old', now() - interval '401 days'), "
                "('c', '/s', 'recent', now() - interval '399 days')")
            await conn.execute("INSERT INTO items (n, event_id) VALUES (3, 'a'), (30, 'b')")
            deleted = await svc.service.relay.housekeep(conn)
            assert deleted == {"inbox": 1, "items": 1}
            assert [r["event_id"] for r in await conn.fetch("SELECT event_id FROM inbox")] == [
                "recent"]
            assert await conn.fetchval("SELECT array_agg(n) FROM items") == [30]
    finally:
        await svc.service.faststream.stop()


async def test_housekeeping_deletes_rows_sent_over_an_hour_ago_up_to_the_first_it_keeps(
        settings: Settings, tmp_path: Path, topics: tuple[str, str], producer: Producer) -> None:
    async with _outbox_of(settings, tmp_path, topics, 6) as (svc, pool):
        hour = timedelta(hours=1)
        sent = {0: 2 * hour, 1: hour + timedelta(minutes=1), 2: None, 3: 2 * hour,
                4: timedelta(minutes=1), 5: 2 * hour}
        seqs = [r["seq"] for r in await pool.fetch("SELECT seq FROM outbox ORDER BY seq")]
        for n, ago in sent.items():
            if ago is not None:
                await pool.execute("UPDATE outbox SET sent_at = now() - $2::interval WHERE seq = $1",
                                   seqs[n], ago)
        relay = OutboxRelay(pool, producer, svc.schema)

        async def left() -> list[int]:
            rows = await pool.fetch("SELECT seq FROM outbox ORDER BY seq")
            return [seqs.index(r["seq"]) for r in rows]

        await relay.housekeeping()
        assert await left() == [2, 3, 4, 5], "the unsent row 2 keeps the old row 3 after it"
        await pool.execute("UPDATE outbox SET sent_at = now() - interval '3 hours' WHERE seq = $1",
                           seqs[2])
        await relay.housekeeping()
        assert await left() == [4, 5], "sent within the hour: kept, and the old row 5 after it"


async def test_a_database_outage_makes_the_consumer_wait_not_drop(
        running: ItemService, producer: Producer, topics: tuple[str, str],
        settings: Settings) -> None:
    await producer.send_many([record(topics[0], 1)])
    assert await wait_for(lambda: _equals(running.numbers(), [1])) is True
    postgres.stop(settings)
    try:
        await producer.send_many([record(topics[0], n) for n in (2, 3, 4)])
        await asyncio.sleep(2.0)
    finally:
        postgres.start(settings)
    assert await wait_for(lambda: _equals(running.numbers(), [1, 2, 3, 4]), timeout=60) is True
    assert sorted(await wait_for(lambda: _values_at_least(settings, topics[1], 4),
                                 timeout=60)) == [10, 20, 30, 40]


async def _values_at_least(settings: Settings, topic: str, count: int) -> list[int] | None:
    values = await _values(settings, topic)
    return values if len(values) >= count else None


async def test_metrics_report_handled_records_backlog_and_lag(
        running: ItemService, producer: Producer, topics: tuple[str, str]) -> None:
    from prometheus_client import generate_latest

    await producer.send_many([record(topics[0], n) for n in (5, 6)])
    assert await wait_for(lambda: _equals(running.numbers(), [5, 6])) is True

    async def caught_up() -> bool:
        await running.service.observe()
        text = generate_latest().decode()
        lag_line = (f'commande_consumer_lag{{consumer="{running.schema}",partition="0",'
                    f'topic="{topics[0]}"}} 0.0')
        return lag_line in text

    assert await wait_for(caught_up) is True
    text = generate_latest().decode()
    assert f'commande_handled_total{{consumer="{running.schema}-items"}} 2.0' in text
    assert f'commande_outbox_backlog{{schema="{running.schema}"}} 0.0' in text


async def test_skipped_types_are_neither_decoded_nor_recorded(running: ItemService,
                                                             topics: tuple[str, str]) -> None:
    consumer = Consumer(f"{running.schema}-skipping", running.schema, running.service.pool,
                        running.service.producer, decode, running.handle,
                        skip_types=frozenset({"ca.example.ignored.v1"}))
    ignored = InRecord(topics[0], 0, 0, b"k", b"not even json",
                       (("ce_type", b"ca.example.ignored.v1"),))
    kept = InRecord(topics[0], 0, 1, b"k", json.dumps({"n": 3}).encode(),
                    (("ce_id", b"kept-1"), ("ce_source", b"/test"), ("ce_type", b"ca.example.kept.v1")))
    await consumer.process([ignored, kept])
    assert await running.numbers() == [3]
    async with running.service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 1


async def test_a_batch_reaches_its_handler_without_a_hop_to_a_worker_thread(
        running: ItemService, producer: Producer, topics: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # FastStream's dependency injection runs what it cannot await (a context parameter such as
    # a ``KafkaMessage`` argument) through fast_depends' run_in_threadpool: a thread hop per batch.
    import fast_depends.utils

    hops: list[object] = []
    to_thread = fast_depends.utils.run_in_threadpool

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await to_thread(func, *args, **kwargs)

    monkeypatch.setattr(fast_depends.utils, "run_in_threadpool", counted)
    await producer.send_many([record(topics[0], 4), record(topics[0], 5)])
    assert await wait_for(lambda: _equals(running.numbers(), [4, 5])) is True
    assert hops == [], [getattr(h, "__qualname__", h) for h in hops]
