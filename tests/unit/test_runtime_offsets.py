"""Handled offsets committed a little later, a few batches at once: never more than was handled,
never a partition no longer assigned, a refused commit dropped (the inbox skips what is read
again), and at once while the service stops."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from services.runtime.offsets import Offsets

pytestmark = pytest.mark.unit

A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int


@dataclass
class FakeConsumer:
    """An aiokafka consumer as :class:`Offsets` uses it: its assignment, and the commits asked."""

    assigned: set[TopicPartition] = field(default_factory=lambda: {A0, A1, B0})
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    refuse: int = 0
    gate: asyncio.Event | None = None
    committed: asyncio.Event = field(default_factory=asyncio.Event)

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.refuse:
            self.refuse -= 1
            raise CommitFailedError("rebalanced")
        self.commits.append(dict(offsets))
        self.committed.set()


async def settled(consumer: FakeConsumer, count: int) -> None:
    """Wait (at most 2 s) until ``count`` commits were made."""
    async def reached() -> None:
        while len(consumer.commits) < count:
            consumer.committed.clear()
            await consumer.committed.wait()
    await asyncio.wait_for(reached(), 2)


async def test_batches_handled_within_the_interval_are_committed_once_at_their_highest() -> None:
    consumer = FakeConsumer()
    offsets = Offsets("c", every=0.05)
    await offsets.handled(consumer, [Rec("a", 0, 10), Rec("a", 0, 11), Rec("b", 0, 3)])
    await offsets.handled(consumer, [Rec("a", 0, 12), Rec("a", 1, 7)])
    assert consumer.commits == []  # not after each batch
    await settled(consumer, 1)
    assert consumer.commits == [{A0: 13, A1: 8, B0: 4}]  # the next offset to read
    await asyncio.sleep(0.1)
    assert len(consumer.commits) == 1  # nothing new, nothing committed again


async def test_a_partition_no_longer_assigned_is_left_out() -> None:
    consumer = FakeConsumer()
    offsets = Offsets("c", every=0.02)
    await offsets.handled(consumer, [Rec("a", 0, 5), Rec("a", 1, 5)])
    consumer.assigned = {A1}
    await settled(consumer, 1)
    assert consumer.commits == [{A1: 6}]


async def test_a_refused_commit_is_dropped_and_later_batches_are_committed() -> None:
    consumer = FakeConsumer(refuse=1)
    offsets = Offsets("c", every=0.02)
    await offsets.handled(consumer, [Rec("a", 0, 5)])
    await asyncio.sleep(0.1)
    assert consumer.commits == []
    await offsets.handled(consumer, [Rec("a", 0, 6)])
    await settled(consumer, 1)
    assert consumer.commits == [{A0: 7}]


async def test_what_is_handled_during_a_commit_is_committed_without_another_batch() -> None:
    gate = asyncio.Event()
    consumer = FakeConsumer(gate=gate)
    offsets = Offsets("c", every=0.02)
    await offsets.handled(consumer, [Rec("a", 0, 1)])
    await asyncio.sleep(0.06)  # the first commit now waits at the gate
    await offsets.handled(consumer, [Rec("a", 0, 2)])
    gate.set()
    await settled(consumer, 2)
    assert consumer.commits == [{A0: 2}, {A0: 3}]


async def test_while_stopping_a_batch_commits_at_once_and_close_commits_what_waits() -> None:
    consumer = FakeConsumer()
    offsets = Offsets("c", every=60)
    await offsets.handled(consumer, [Rec("a", 0, 1)])
    await offsets.close()
    assert consumer.commits == [{A0: 2}]
    await offsets.handled(consumer, [Rec("b", 0, 4)], now=True)
    assert consumer.commits == [{A0: 2}, {B0: 5}]
