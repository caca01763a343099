"""Committing a consumer's handled offsets to Kafka a little later, a few batches at once.

A batch's effects and its inbox rows are committed in PostgreSQL before the batch counts as
handled (:mod:`services.runtime.consumer`); the Kafka offset only says where a restarted or newly
assigned consumer starts reading. A record read again after a crash finds its inbox row and
changes nothing. So the offsets need not be committed after every batch, in a round trip the
consumer used to wait for before fetching its next batch (a request the broker writes to its
offsets log, several times a second per consumer under load): :class:`Offsets` notes each handled
batch and commits what was noted, explicitly per partition, at most :data:`COMMIT_EVERY` seconds
after the first batch since the last commit, and at once while the service stops.

Never committed ahead of the handling: only offsets of handled batches are noted (the consumer's
position is already past a batch being handled, so committing the position could skip it after a
crash). A batch that fails is not noted; the consumer is rewound to its first record. A partition
no longer assigned is left out; a commit the broker refuses (a rebalance) is dropped with a log
line: the next owner reads those records again, and its inbox skips them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Protocol

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from services.runtime.logging import get_logger

log = get_logger(__name__)

COMMIT_EVERY = 0.2
"""Seconds from a consumer's first handled batch since its last commit to the next commit: at
most this much more is read again after a crash (and the lag a scrape sees is behind by it)."""


class Committer(Protocol):
    """What :class:`Offsets` needs of a Kafka consumer (aiokafka's ``AIOKafkaConsumer``)."""

    def assignment(self) -> set[TopicPartition]: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...


class Handled(Protocol):
    """A handled record's position (aiokafka's ``ConsumerRecord``)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


class Offsets:
    """The handled offsets of one consumer, committed soon after (see the module)."""

    def __init__(self, consumer_name: str, every: float = COMMIT_EVERY) -> None:
        self.consumer_name = consumer_name
        self.every = every
        self._pending: dict[TopicPartition, int] = {}
        self._committer: Committer | None = None
        self._later: asyncio.Task[None] | None = None

    async def handled(self, committer: Committer, records: Iterable[Handled], *,
                      now: bool = False) -> None:
        """Note a handled batch; commit at once if ``now`` (the service is stopping), else
        within :attr:`every` seconds."""
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            self._pending[tp] = max(self._pending.get(tp, 0), r.offset + 1)
        self._committer = committer
        if now:
            await self.flush()
        elif self._later is None or self._later.done():
            self._later = asyncio.create_task(self._commit_later())

    async def _commit_later(self) -> None:
        try:
            while True:  # what was noted while committing waits for the next round
                await asyncio.sleep(self.every)
                await self.flush()
                if not self._pending:
                    return
        except Exception:  # a task nobody awaits: say so here (the records come again)
            log.exception("offsets could not be committed", consumer=self.consumer_name)

    async def flush(self) -> None:
        """Commit what was noted (the partitions still assigned)."""
        pending, self._pending = self._pending, {}
        if not pending or self._committer is None:
            return
        assigned = self._committer.assignment()
        offsets = {tp: offset for tp, offset in pending.items() if tp in assigned}
        if not offsets:
            return
        try:
            await self._committer.commit(offsets)
        except KafkaError as exc:
            log.info("offsets not committed; their records will be read again and skipped",
                     consumer=self.consumer_name, error=type(exc).__name__)

    async def close(self) -> None:
        """Commit what is noted and stop the pending commit (the service stops)."""
        if self._later is not None:
            self._later.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._later
        await self.flush()
