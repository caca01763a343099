"""A connection pool for shell tests on in-memory stores: what a shell does with a connection
besides handing it to its store factory is a transaction and the outbox
(:func:`services.runtime.outbox.add`); this pool's one connection keeps the outbox rows as
:class:`~services.runtime.kafka.OutRecord` (in ``published``) and ignores the relay's wake-up
(the same statement's ``pg_notify``).
There are no transactions: nothing is rolled back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from services.runtime import outbox
from services.runtime.db import Pool
from services.runtime.kafka import OutRecord
from services.runtime.service import Service


class OutboxConnection:
    """The connection: ``transaction()`` and ``execute`` of the outbox's statements."""

    def __init__(self, published: list[OutRecord]) -> None:
        self._published = published

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield

    async def execute(self, query: str, *args: Any) -> None:
        if query != outbox.INSERT:
            raise AssertionError(f"a shell ran SQL outside its store: {query.strip()[:60]}")
        topics, keys, headers, values, _channel, urgent = args
        self._published.extend(
            OutRecord(topic=t, key=k, value=v,
                      headers=tuple((h, x.encode()) for h, x in json.loads(hs)), urgent=u)
            for t, k, hs, v, u in zip(topics, keys, headers, values, urgent, strict=True))


class OutboxPool:
    """A pool of that one connection."""

    def __init__(self, published: list[OutRecord] | None = None) -> None:
        self.published: list[OutRecord] = [] if published is None else published
        self._conn = OutboxConnection(self.published)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[OutboxConnection]:
        yield self._conn

    def as_pool(self) -> Pool:
        """Typed as the runtime's pool, for the shells' signatures."""
        return cast(Pool, self)


@dataclass
class _Started:
    name: str
    pool: Pool


def started(name: str, pool: OutboxPool) -> Service:
    """What HTTP routes use of their started service, its name (the outbox's schema) and its
    pool, for routes tested on a fake store."""
    return cast(Service, _Started(name, pool.as_pool()))
