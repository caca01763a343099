"""A consumer's poll: it waits for records in aiokafka's ``getmany`` only, never in a sleep of
FastStream's after an empty poll (services.runtime.service._poll_without_sleeping)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition

from services.runtime import events
from services.runtime.service import POLL_MS, Service
from services.runtime.settings import Settings

pytestmark = pytest.mark.unit


class Polled:
    """What the subscriber's poll sees of an ``AIOKafkaConsumer``: ``getmany`` answers, in turn."""

    def __init__(self, *answers: dict[TopicPartition, list[str]]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[int, int | None]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int | None) -> dict[
            TopicPartition, list[str]]:
        self.asked.append((timeout_ms, max_records))
        return self.answers.pop(0)


def subscriber_of(max_records: int) -> Any:
    svc = Service("intake", Settings())

    async def handle(*_: object) -> list[Any]:
        return []

    svc.consume("commande.referrals.v1", group="g", name="referrals", decode=events.decode,
                handle=handle, max_records=max_records)
    [subscriber] = svc.broker.subscribers
    return subscriber


async def test_an_empty_poll_returns_at_once_and_records_come_in_partition_order() -> None:
    subscriber = subscriber_of(max_records=7)
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    consumer = Polled({}, {a: ["a0", "a1"], b: ["b0"]})
    # FastStream's own poll sleeps as long as it waited (POLL_MS) after an empty answer.
    assert await asyncio.wait_for(subscriber.get_msg(consumer), POLL_MS / 2000) == ()
    assert await asyncio.wait_for(subscriber.get_msg(consumer), POLL_MS / 2000) == (
        "a0", "a1", "b0")
    assert consumer.asked == [(POLL_MS, 7), (POLL_MS, 7)]
