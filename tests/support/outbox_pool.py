"""A stand-in for a pool whose connections a shell uses only for transactions and the outbox
(``services.runtime.outbox.add``): what a timer loop writes to the outbox is kept as records.
The store itself is a fake handed to the loop for any connection."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from services.runtime import outbox
from services.runtime.kafka import OutRecord


class RecordingConn:
    """A transaction that does nothing, and the outbox rows kept as records."""

    def __init__(self, published: list[OutRecord]) -> None:
        self._published = published

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield

    async def execute(self, query: str, *args: Any) -> None:
        if query != outbox.INSERT:
            return  # the relay's NOTIFY
        topics, keys, headers, values = args
        self._published.extend(
            OutRecord(topic=t, key=k, value=v,
                      headers=tuple((h, x.encode()) for h, x in json.loads(hs)))
            for t, k, hs, v in zip(topics, keys, headers, values, strict=True))


class RecordingPool:
    """Hands out one :class:`RecordingConn` appending to ``published``."""

    def __init__(self, published: list[OutRecord]) -> None:
        self._conn = RecordingConn(published)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[RecordingConn]:
        yield self._conn
