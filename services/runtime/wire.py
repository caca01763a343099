"""What a client of the topics needs (the people-facing commands, the demo, the e2e tests): publish
events, watch a topic for an answer, read one situation's events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from types import TracebackType
from uuid import UUID

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from schemas.base import Message
from schemas.envelope import Envelope
from schemas.errors import ContractError, TransientError
from schemas.topics import SITUATIONS
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


TIMELINE_PRINCIPAL = "analytics"
"""A situation's events are de-identified: they are read as the read-only analytics principal."""


async def situation_events(settings: Settings, situation_id: UUID) -> list[Envelope[Message]]:
    """Every decodable event keyed by ``situation_id`` on the situations topic, in order.

    A situation's events share its key, so they live in one partition: only that one is read.
    """
    key = str(situation_id).encode()
    parts = await partitions(settings, TIMELINE_PRINCIPAL, SITUATIONS.name)
    if not parts:
        return []
    partition = DefaultPartitioner()(key, parts, parts)
    tp = TopicPartition(SITUATIONS.name, partition)
    consumer = kafka_client.consumer(settings, TIMELINE_PRINCIPAL, group_id=None, enable_auto_commit=False,
                                     client_id=f"commande-cli-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        found: list[Envelope[Message]] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=500)
            for rec in batch.get(tp, []):
                if rec.key != key or rec.offset >= end:
                    continue
                try:
                    found.append(decode(InRecord.from_consumer_record(rec)))
                except ContractError:
                    continue
        return found
    finally:
        await consumer.stop()
