"""A throwaway service for the runtime's integration tests: numbered items in, tenfold out.

It stands in for a real service (its own schema, topics and group), so the tests that use it
exercise only the shared machinery: inbox, outbox relay, batches, lanes, dead letters.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import ContractError
from schemas.topics import TopicSpec
from services.runtime.db import Connection
from services.runtime.kafka import InRecord, OutRecord
from services.runtime.service import Service
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.support.kafka import HARNESS


@dataclass(frozen=True)
class Item:
    source: str
    id: str
    n: int


def decode(rec: InRecord) -> Item:
    headers = dict(rec.headers)
    if "ce_id" not in headers or "ce_source" not in headers:
        raise ContractError("missing ce_id or ce_source header")
    try:
        n = int(json.loads(rec.value)["n"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ContractError("body is not {\"n\": int}") from exc
    return Item(headers["ce_source"].decode(), headers["ce_id"].decode(), n)


def record(topic: str, n: int, *, event_id: str | None = None) -> OutRecord:
    return OutRecord(topic=topic, key=b"k", value=json.dumps({"n": n}).encode(), headers=(
        ("ce_id", (event_id or str(uuid.uuid4())).encode()), ("ce_source", b"/test")))


class ItemService:
    """A minimal service: stores each item's number and emits one event per item."""

    def __init__(self, settings: Settings, tmp: Path, topic: str, out_topic: str) -> None:
        self.schema = f"rt_{uuid.uuid4().hex[:10]}"
        mig = tmp / self.schema
        mig.mkdir()
        (mig / "001_items.sql").write_text(
            "CREATE TABLE items (n integer NOT NULL, event_id text PRIMARY KEY);")
        self.out_topic = out_topic
        self.service = Service(self.schema, settings.model_copy(update={"lag_refresh_seconds": 0}),
                               mig, principal=HARNESS)
        self.service.consume(topic, group=self.schema, name=f"{self.schema}-items",
                             decode=decode, handle=self.handle)

    async def handle(self, conn: Connection, item: Item, rec: InRecord) -> Sequence[OutRecord]:
        await conn.execute("INSERT INTO items (n, event_id) VALUES ($1, $2)", item.n, item.id)
        return [record(self.out_topic, item.n * 10, event_id=f"out-{item.id}")]

    async def numbers(self) -> list[int]:
        async with self.service.pool.acquire() as conn:
            return [r["n"] for r in await conn.fetch("SELECT n FROM items ORDER BY n")]


async def scratch_topics(settings: Settings, *, partitions: int = 1) -> tuple[str, str]:
    """An input topic of ``partitions`` and an output topic of one partition, named for this
    test alone."""
    suffix = uuid.uuid4().hex[:8]
    specs = (TopicSpec(f"test.in.{suffix}", "k", "tests", "tests", 3_600_000,
                       partitions=partitions),
             TopicSpec(f"test.out.{suffix}", "k", "tests", "tests", 3_600_000, partitions=1))
    await ensure_topics(settings, HARNESS, specs)
    return specs[0].name, specs[1].name
