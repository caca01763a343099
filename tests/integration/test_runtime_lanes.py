"""An urgent lane (docs/adr/0006-urgent-lane.md) on the real Kafka and PostgreSQL: a lane's
consumer goes on while its main topic is stuck behind a record, a record that comes both ways is
handled once, because the two consumers share one inbox, and the main topic does not wait for a
copy the lane is handling."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
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
    lane with one inbox. A routine item's handler waits for :attr:`release`, an urgent one's (on
    either topic) sets :attr:`started` and waits for :attr:`hold`. ``both_ways``: the urgent
    items of the main topic are copies of the lane's (``Service.consume``'s ``both_ways``)."""

    def __init__(self, settings: Settings, tmp: Path, main: str, lane: str, out: str, *,
                 both_ways: bool = False) -> None:
        self.schema = f"rt_{uuid.uuid4().hex[:10]}"
        mig = tmp / self.schema
        mig.mkdir()
        (mig / "001_items.sql").write_text(
            "CREATE TABLE items (n integer NOT NULL, event_id text PRIMARY KEY);")
        self.main, self.lane, self.out = main, lane, out
        self.release, self.started, self.hold = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.hold.set()
        self.service = Service(self.schema, settings.model_copy(update={"lag_refresh_seconds": 0}),
                               mig, principal=HARNESS)
        self.service.consume(main, group=self.schema, name="items", decode=decode,
                             handle=self.handle, both_ways=_urgent if both_ways else None)
        self.service.consume(lane, group=f"{self.schema}-urgent", name="items-urgent",
                             inbox="items", decode=decode, handle=self.handle,
                             both_ways=_urgent if both_ways else None)

    async def handle(self, conn: Connection, item: Item, rec: InRecord) -> Sequence[OutRecord]:
        if item.n < URGENT:
            await self.release.wait()
        else:
            self.started.set()
            await self.hold.wait()
        await conn.execute("INSERT INTO items (n, event_id) VALUES ($1, $2)", item.n, item.id)
        return [record(self.out, item.n, event_id=f"out-{item.id}")]

    async def numbers(self) -> list[int]:
        async with self.service.pool.acquire() as conn:
            return [r["n"] for r in await conn.fetch("SELECT n FROM items ORDER BY n")]


def _urgent(item: Item) -> bool:
    return item.n >= URGENT


@asynccontextmanager
async def _running(settings: Settings, tmp: Path, *, both_ways: bool = False
                   ) -> AsyncIterator[LanedService]:
    suffix = uuid.uuid4().hex[:8]
    specs = tuple(TopicSpec(f"test.{part}.{suffix}", "k", "tests", "tests", 3_600_000,
                            partitions=1) for part in ("main", "lane", "out"))
    await ensure_topics(settings, HARNESS, specs)
    svc = LanedService(settings, tmp, *(s.name for s in specs), both_ways=both_ways)
    await svc.service.faststream.start()
    try:
        yield svc
    finally:
        svc.release.set()
        svc.hold.set()
        await svc.service.faststream.stop()


@pytest.fixture
async def laned(settings: Settings, tmp_path: Path) -> AsyncIterator[LanedService]:
    async with _running(settings, tmp_path) as svc:
        yield svc


@pytest.fixture
async def claiming(settings: Settings, tmp_path: Path) -> AsyncIterator[LanedService]:
    async with _running(settings, tmp_path, both_ways=True) as svc:
        yield svc


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


async def test_the_main_topic_leaves_a_copy_the_lane_is_handling_to_it_instead_of_waiting(
        settings: Settings, claiming: LanedService) -> None:
    main, lane = claiming.main, claiming.lane
    claiming.release.set()
    claiming.hold.clear()
    producer = Producer(settings, HARNESS)
    await producer.start()
    try:
        urgent = record(lane, URGENT)
        await producer.send_many([urgent])
        await asyncio.wait_for(claiming.started.wait(), 30)  # the lane's transaction has it
        await producer.send_many([OutRecord(main, urgent.value, urgent.key, urgent.headers),
                                  record(main, 1)])

        async def routine_done() -> bool:
            return 1 in await claiming.numbers()

        # without the claim, the main consumer's inbox insert of the copy waited for the lane's
        # transaction, and item 1 behind it with it
        await wait_for(routine_done, timeout=30)
        assert await claiming.numbers() == [1]
        claiming.hold.set()

        async def urgent_done() -> bool:
            return URGENT in await claiming.numbers()

        await wait_for(urgent_done, timeout=30)
        await producer.send_many([record(main, 2)])  # behind the copy: once in, all was seen

        async def all_done() -> bool:
            return 2 in await claiming.numbers()

        await wait_for(all_done, timeout=30)
        assert await claiming.numbers() == [1, 2, URGENT]
        outs = [json.loads(r.value)["n"] for r in await read_all(settings, claiming.out)]
        assert sorted(outs) == [1, 2, URGENT]
    finally:
        await producer.stop()
