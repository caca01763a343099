"""What the people-facing commands need of Kafka: publish events, and watch a topic for an answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from types import TracebackType

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from schemas.base import Message
from schemas.envelope import Envelope
from schemas.errors import ContractError, TransientError
from services.runtime import kafka_client
from services.runtime.events import decode, emit
from services.runtime.kafka import InRecord, OutRecord, Producer, partitions
from services.runtime.settings import Settings


async def publish(settings: Settings, principal: str, events: list[Message], *,
                  source: str) -> list[str]:
    """Publish ``events`` as CloudEvents from ``source``, connected as ``principal``; returns
    their ``ce_id``s."""
    return await send(settings, principal, [emit(event, source=source) for event in events])


async def send(settings: Settings, principal: str, records: list[OutRecord]) -> list[str]:
    """Publish ready records (e.g. signed ones), connected as ``principal``; returns their
    ``ce_id``s."""
    producer = Producer(settings, principal, client_id="commande-cli")
    await producer.start()
    try:
        await producer.send_many(records)
        return [dict(r.headers)["ce_id"].decode() for r in records]
    finally:
        await producer.stop()


class Watch:
    """Reads ``topics`` from their ends at entry (so nothing published after entry is missed)."""

    def __init__(self, settings: Settings, principal: str, *topics: str) -> None:
        self._topics = topics
        self._settings = settings
        self._principal = principal
        self._consumer = kafka_client.consumer(settings, principal, group_id=None,
                                               enable_auto_commit=False,
                                               client_id=f"commande-cli-{uuid.uuid4().hex[:8]}")

    async def __aenter__(self) -> Watch:
        try:
            await self._consumer.start()
        except KafkaError as exc:
            raise TransientError(f"Kafka is not reachable: {exc}") from exc
        tps: list[TopicPartition] = []
        for topic in self._topics:
            parts = await partitions(self._settings, self._principal, topic)
            if not parts:
                raise TransientError(f"topic {topic} does not exist: run `commande stack up`")
            tps.extend(TopicPartition(topic, p) for p in parts)
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:  # pin the positions now, before anything is published
            await self._consumer.position(tp)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._consumer.stop()

    async def first(self, match: Callable[[Envelope[Message]], bool],
                    within: float) -> Envelope[Message] | None:
        """The first decodable event that ``match``es, or None after ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for rec in records:
                    try:
                        env = decode(InRecord.from_consumer_record(rec))
                    except ContractError:
                        continue
                    if match(env):
                        return env
        return None
