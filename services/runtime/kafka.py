"""A small typed adapter over the parts of aiokafka we use (aiokafka itself is untyped)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from schemas.errors import CommandeError, TransientError
from services.runtime import kafka_client
from services.runtime.settings import Settings

Headers = tuple[tuple[str, bytes], ...]
MAX_RECORD_BYTES = 4 * 1024 * 1024
"""The largest record the producers send (``max_request_size``; the broker's ``message.max.bytes``
on the embedded stack)."""
SIZE_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)


class UndeliverableRecord(CommandeError):
    """A record Kafka will never take (too large): retrying cannot help.

    ``index`` is its position in the batch given to :meth:`Producer.send_many` (``None`` when the
    broker refused the batch without saying which). Raised before anything of the batch is sent
    when the size is known in advance; it never retires the producer.
    """

    def __init__(self, message: str, index: int | None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True, slots=True)
class OutRecord:
    """A record to publish."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Headers = ()
    urgent: bool = False
    """An urgent lane's copy: the outbox relay publishes it before the routine rows waiting
    (docs/adr/0006). Every record on a lane topic is one, so each topic's order is kept."""


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


def record_size(rec: OutRecord) -> int:
    """The record's size as Kafka counts it against the limit."""
    size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(rec.key, rec.value,
                                                                  list(rec.headers))
    return size


def fits(rec: OutRecord) -> bool:
    """Whether Kafka takes ``rec`` (see :data:`MAX_RECORD_BYTES`)."""
    return record_size(rec) <= MAX_RECORD_BYTES


class Producer:
    """An idempotent producer (``acks=all``) that publishes batches and waits for them.

    A publish that fails or does not complete within ``send_timeout`` raises
    :class:`TransientError` and retires the underlying aiokafka producer; the next publish starts
    a fresh one. aiokafka's idempotent producer never expires a batch and retries it for ever, and
    after a broker restart it can be left unable to deliver (its sender stopped, or its sequence
    numbers out of step with the broker): reusing it would block the outbox relay for good. A
    fresh producer has a new producer id; a record the old one did deliver is published again
    with the same ``ce_id``, which consumers drop through their inbox.
    """

    def __init__(self, settings: Settings, principal: str, *, client_id: str = "commande",
                 send_timeout: float = 30.0) -> None:
        self._settings = settings
        self._principal = principal
        self._client_id = client_id
        self._send_timeout = send_timeout
        self._producer: Any = None
        self._started = False

    async def start(self) -> None:
        """Connect; raises TransientError while the broker is unreachable.

        The aiokafka producer is made here, not in ``__init__``: it needs a running loop.
        """
        producer = kafka_client.producer(
            self._settings, self._principal, client_id=self._client_id, enable_idempotence=True,
            linger_ms=2, max_request_size=MAX_RECORD_BYTES, request_timeout_ms=15000,
        )
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise TransientError(f"Kafka is not reachable: {exc}") from exc
        self._producer = producer
        self._started = True

    async def stop(self) -> None:
        """Flush and disconnect."""
        self._started = False
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def send_many(self, records: Sequence[OutRecord]) -> None:
        """Publish ``records`` in order and wait until the broker acknowledged all of them."""
        if not self._started:
            raise TransientError("the producer is not started")
        for index, rec in enumerate(records):
            if not fits(rec):
                raise UndeliverableRecord(
                    f"a record for {rec.topic} is {record_size(rec)} bytes, over Kafka's limit "
                    f"of {MAX_RECORD_BYTES}", index)
        if self._producer is None:
            await self.start()
        try:
            await asyncio.wait_for(self._send(self._producer, records), self._send_timeout)
        except SIZE_ERRORS as exc:
            raise UndeliverableRecord(f"Kafka refused a record as too large: {exc}", None) from exc
        except (KafkaError, TimeoutError) as exc:
            await self._retire()
            what = "timed out" if isinstance(exc, TimeoutError) else f"failed: {exc}"
            raise TransientError(f"publishing to Kafka {what}") from exc

    @staticmethod
    async def _send(producer: Any, records: Sequence[OutRecord]) -> None:
        futures = [await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
                   for r in records]
        await asyncio.gather(*futures)

    async def _retire(self) -> None:
        """Drop the current aiokafka producer; the next publish starts a new one. Its stop flushes
        what it still holds, which may never end: it gets a few seconds, then is abandoned."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        stopping = asyncio.ensure_future(producer.stop())
        done, _ = await asyncio.wait({stopping}, timeout=5.0)
        if not done:
            stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await stopping


async def partitions(settings: Settings, principal: str, topic: str) -> list[int]:
    """The partition numbers of ``topic`` (empty if it does not exist), from a metadata request."""
    admin = kafka_client.admin(settings, principal, request_timeout_ms=10000)
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
