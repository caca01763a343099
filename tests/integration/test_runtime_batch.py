"""The runtime's batch-level handler hook, on the real PostgreSQL and Kafka: one call per
transaction with the new records only, duplicates (redelivered, or repeated inside the batch)
dropped by the inbox, and the per-record fallback (then the DLQ) when a batch fails."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from schemas.topics import DLQ
from services.runtime.consumer import Consumer
from services.runtime.db import Connection
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.settings import Settings
from tests.support.items import Item, ItemService, decode, record, scratch_topics
from tests.support.kafka import read_all

pytestmark = pytest.mark.integration


class Batches:
    """A batch handler for :class:`ItemService`'s table: one INSERT per batch; a negative
    number fails the statement (a poison record the per-record fallback must isolate)."""

    def __init__(self, svc: ItemService) -> None:
        self.svc = svc
        self.calls: list[list[int]] = []

    async def handle(self, conn: Connection, items: Sequence[tuple[Item, InRecord]]
                     ) -> Sequence[OutRecord]:
        numbers = [item.n for item, _ in items]
        self.calls.append(numbers)
        if any(n < 0 for n in numbers):
            await conn.execute("SELECT 1 / 0")
        await conn.execute("INSERT INTO items (n, event_id) SELECT * FROM unnest($1::int[], $2::text[])",
                           numbers, [item.id for item, _ in items])
        return [record(self.svc.out_topic, item.n * 10, event_id=f"out-{item.id}")
                for item, _ in items]


def rec(topic: str, offset: int, n: int, event_id: str) -> InRecord:
    return InRecord(topic, 0, offset, b"k", json.dumps({"n": n}).encode(),
                    (("ce_id", event_id.encode()), ("ce_source", b"/test")))


@pytest.fixture
async def topics(settings: Settings) -> tuple[str, str]:
    return await scratch_topics(settings)


@pytest.fixture
async def svc(settings: Settings, tmp_path: Path, topics: tuple[str, str]
              ) -> AsyncIterator[ItemService]:
    service = ItemService(settings, tmp_path, *topics)
    await service.service.faststream.start()
    yield service
    await service.service.faststream.stop()


async def test_one_call_per_batch_with_only_the_new_records(svc: ItemService,
                                                            topics: tuple[str, str]) -> None:
    batches = Batches(svc)
    consumer = Consumer(f"{svc.schema}-batch", svc.schema, svc.service.pool, svc.service.producer,
                        decode, svc.handle, handle_batch=batches.handle)
    await consumer.process([rec(topics[0], 0, 1, "a"), rec(topics[0], 1, 2, "b")])
    # "b" again (a redelivery) and "c" twice in one batch: each handled once.
    await consumer.process([rec(topics[0], 1, 2, "b"), rec(topics[0], 2, 3, "c"),
                            rec(topics[0], 3, 3, "c"), rec(topics[0], 4, 4, "d")])
    assert batches.calls == [[1, 2], [3, 4]]
    assert await svc.numbers() == [1, 2, 3, 4]
    async with svc.service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 4
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 4


async def test_a_failing_batch_falls_back_to_one_record_at_a_time_and_dead_letters_the_poison(
        svc: ItemService, topics: tuple[str, str], settings: Settings) -> None:
    batches = Batches(svc)
    consumer = Consumer(f"{svc.schema}-batch", svc.schema, svc.service.pool, svc.service.producer,
                        decode, svc.handle, handle_batch=batches.handle)
    await consumer.process([rec(topics[0], 10, 5, "e"), rec(topics[0], 11, -1, "poison"),
                            rec(topics[0], 12, 6, "f")])
    assert batches.calls[0] == [5, -1, 6]
    assert [5] in batches.calls
    assert [6] in batches.calls
    assert await svc.numbers() == [5, 6]
    dlq = [r for r in await read_all(settings, DLQ.name)
           if dict(r.headers).get("orig_topic") == topics[0].encode()]
    assert [dict(r.headers)["orig_offset"] for r in dlq] == [b"11"]
    async with svc.service.pool.acquire() as conn:
        # the poison's inbox row went with its rolled-back transactions
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = 'poison'") == 0
