"""An urgent lane (docs/adr/0006-urgent-lane.md) on the real Kafka and PostgreSQL: a lane's
consumer goes on while its main topic is stuck behind a record, and a record that comes both
ways is handled once, because the two consumers share one inbox."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from schemas.topics import TopicSpec
from services.runtime.db import Connection
from services.runtime.kafka import InRecord, OutRecord, Producer
from services.runtime.service import Service
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.support.items import Item, decode, record
from tests.support.kafka import HARNESS, read_all, wait_for

pytestmark = pytest.mark.integration

URGENT = 1000
"""Items numbered from here are urgent; the others wait until the test lets them through."""


class LanedService:
    """Stores each item's number and emits one event per item; consumes a main topic and its
    lane with one inbox. A routine item's handler waits for :attr:`release`."""

    def __init__(self, settings: Settings, tmp: Path, main: str, lane: str, out: str) -> None:
        self.schema = f"rt_{uuid.uuid4().hex[:10]}"
        mig = tmp / self.schema
        mig.mkdir()
        (mig / "001_items.sql").write_text(
            "CREATE TABLE items (n integer NOT NULL, event_id text PRIMARY KEY);")
        self.main, self.lane, self.out = main, lane, out
        self.release = asyncio.Event()
        self.service = Service(self.schema, settings.model_copy(update={"lag_refresh_seconds": 0}),
                               mig, principal=HARNESS)
        self.service.consume(main, group=self.schema, name="items", decode=decode,
                             handle=self.handle)
        self.service.consume(lane, group=f"{self.schema}-urgent", name="items-urgent",
                             inbox="items", decode=decode, handle=self.handle)

    async def handle(self, conn: Connection, item: Item, rec: InRecord) -> Sequence[OutRecord]:
        if item.n < URGENT:
            await self.release.wait()
        await conn.execute("INSERT INTO items (n, event_id) VALUES ($1, $2)", item.n, item.id)
        return [record(self.out, item.n, event_id=f"out-{item.id}")]

    async def numbers(self) -> list[int]:
        async with self.service.pool.acquire() as conn:
            return [r["n"] for r in await conn.fetch("SELECT n FROM items ORDER BY n")]


@pytest.fixture
async def laned(settings: Settings, tmp_path: Path) -> AsyncIterator[LanedService]:
    suffix = uuid.uuid4().hex[:8]
    specs = tuple(TopicSpec(f"test.{part}.{suffix}", "k", "tests", "tests", 3_600_000,
                            partitions=1) for part in ("main", "lane", "out"))
    await ensure_topics(settings, HARNESS, specs)
    svc = LanedService(settings, tmp_path, *(s.name for s in specs))
    await svc.service.faststream.start()
    try:
        yield svc
    finally:
        svc.release.set()
        await svc.service.faststream.stop()


async def test_the_lane_goes_on_while_its_main_topic_is_stuck_and_a_copy_is_handled_once(
        settings: Settings, laned: LanedService) -> None:
    main, lane = laned.main, laned.lane
    producer = Producer(settings, HARNESS)
    await producer.start()
    try:
        urgent = record(lane, URGENT)
        await producer.send_many([record(main, 1), record(main, 2)])
        await producer.send_many([urgent, OutRecord(main, urgent.value, urgent.key,
                                                    urgent.headers)])

        async def urgent_done() -> bool:
            return URGENT in await laned.numbers()

        await wait_for(urgent_done, timeout=30)
        assert await laned.numbers() == [URGENT]  # the main topic is still stuck on item 1
        laned.release.set()
        # a last item behind the copy on the main topic: once it is in, the copy has been seen
        await producer.send_many([record(main, 3)])

        async def all_done() -> bool:
            return 3 in await laned.numbers()

        await wait_for(all_done, timeout=30)
        assert await laned.numbers() == [1, 2, 3, URGENT]
        outs = [json.loads(r.value)["n"] for r in await read_all(settings, laned.out)]
        assert sorted(outs) == [1, 2, 3, URGENT]
    finally:
        await producer.stop()
