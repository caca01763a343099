"""The runtime producer never blocks its caller for good: a wedged aiokafka producer is retired.

aiokafka's idempotent producer retries a batch for ever; after a broker restart it can be left
unable to deliver (the reliability suite's broker restart found an outbox relay blocked this way).
Here the wedge is made directly: its sender task is stopped, so what is sent is never delivered.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from schemas.errors import TransientError
from schemas.topics import TopicSpec
from services.runtime.kafka import OutRecord, Producer
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.support.kafka import HARNESS, read_all, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def test_a_wedged_producer_times_out_and_the_next_publish_uses_a_fresh_one(
        settings: Settings) -> None:
    spec = TopicSpec(f"test.producer.{uuid.uuid4().hex[:8]}", "k", "tests", "tests", 3_600_000,
                     partitions=1)
    await ensure_topics(settings, HARNESS, (spec,))
    producer = Producer(settings, HARNESS, client_id="test-wedged", send_timeout=2.0)
    await producer.start()
    try:
        await producer.send_many([OutRecord(spec.name, json.dumps({"n": 1}).encode(), b"k")])
        wedged = producer._producer  # aiokafka's, reached into only to wedge it
        wedged._sender.sender_task.cancel()

        began = time.monotonic()
        with pytest.raises(TransientError, match="timed out"):
            await producer.send_many([OutRecord(spec.name, json.dumps({"n": 2}).encode(), b"k")])
        assert time.monotonic() - began < 10, "the caller was blocked past the send timeout"

        await producer.send_many([OutRecord(spec.name, json.dumps({"n": 3}).encode(), b"k")])
        assert producer._producer is not wedged
    finally:
        await producer.stop()

    async def published() -> list[int] | None:
        got = [json.loads(r.value)["n"] for r in await read_all(settings, spec.name)]
        return got if 3 in got else None

    assert await wait_for(published, timeout=20) == [1, 3]
