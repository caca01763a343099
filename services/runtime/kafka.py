"""A small typed adapter over the parts of aiokafka we use (aiokafka itself is untyped)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.errors import TransientError

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class OutRecord:
    """A record to publish."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class InRecord:
    """A consumed record, with where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers = field(default=())

    @classmethod
    def from_consumer_record(cls, rec: Any) -> InRecord:
        """From an aiokafka ``ConsumerRecord``."""
        return cls(
            topic=rec.topic, partition=rec.partition, offset=rec.offset, key=rec.key,
            value=rec.value if rec.value is not None else b"",
            headers=tuple((str(k), bytes(v) if v is not None else b"") for k, v in rec.headers),
        )


class Producer:
    """An idempotent producer (``acks=all``) that publishes batches and waits for them."""

    def __init__(self, bootstrap: str, *, client_id: str = "commande") -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._producer: Any = None

    async def start(self) -> None:
        """Connect; raises TransientError while the broker is unreachable.

        The aiokafka producer is made here, not in ``__init__``: it needs a running loop.
        """
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap, client_id=self._client_id, enable_idempotence=True,
            linger_ms=2, max_request_size=4 * 1024 * 1024, request_timeout_ms=15000,
        )
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise TransientError(f"Kafka is not reachable: {exc}") from exc
        self._producer = producer

    async def stop(self) -> None:
        """Flush and disconnect."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send_many(self, records: Sequence[OutRecord]) -> None:
        """Publish ``records`` in order and wait until the broker acknowledged all of them."""
        if self._producer is None:
            raise TransientError("the producer is not started")
        try:
            futures = [
                await self._producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
                for r in records
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise TransientError(f"publishing to Kafka failed: {exc}") from exc


async def partitions(bootstrap: str, topic: str) -> list[int]:
    """The partition numbers of ``topic`` (empty if it does not exist), from a metadata request."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        await admin.start()
        return (await partitions_of(admin, [topic])).get(topic, [])
    except KafkaError as exc:
        raise TransientError(f"Kafka is not reachable: {exc}") from exc
    finally:
        await admin.close()


async def partitions_of(admin: Any, topics: Sequence[str]) -> dict[str, list[int]]:
    """``{topic: partition numbers}`` for the existing ``topics``, with a started admin client."""
    found: dict[str, list[int]] = {}
    for desc in await admin.describe_topics(list(topics)):
        if desc.get("error_code", 0) == 0 and desc.get("topic") in topics:
            found[desc["topic"]] = sorted(int(p["partition"]) for p in desc["partitions"])
    return found
