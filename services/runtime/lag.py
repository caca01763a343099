"""Consumer lag: how far a consumer group's committed offsets are behind the partitions' ends."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from schemas.errors import TransientError
from services.runtime import kafka_client
from services.runtime.kafka import partitions_of
from services.runtime.settings import Settings


class LagReader:
    """Reads consumer groups' lag over clients it keeps between reads (a service's gauge reads
    every ``COMMANDE_LAG_REFRESH_SECONDS``). A new admin client and consumer per read cost two
    TLS handshakes and two SCRAM exchanges, ~33 ms of CPU per group on the secured stack; a read
    over kept clients, ~1 ms (bench/RESULTS.md, 2026-12-05). A failed read drops them: the next
    one connects anew."""

    def __init__(self, settings: Settings, principal: str) -> None:
        self._settings = settings
        self._principal = principal
        self._clients: tuple[Any, Any] | None = None
        self._closed = False

    async def read(self, group: str, topics: Iterable[str]) -> dict[tuple[str, int], int]:
        """``{(topic, partition): records behind}`` for ``group``. A partition without a
        committed offset counts from its first record still kept: where the group starts (it
        reads from the earliest), and where a partition none of whose records it ever got stays
        (a batch commits only the partitions it came from:
        :func:`services.runtime.service.commit`)."""
        try:
            admin, reader = await self._connected()
            committed = await admin.list_consumer_group_offsets(group)
            tps = [TopicPartition(topic, p) for topic, parts
                   in (await partitions_of(admin, list(topics))).items() for p in parts]
            ends = await reader.end_offsets(tps) if tps else {}
            done = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
            fresh = [tp for tp in tps if tp not in done]
            done.update(await reader.beginning_offsets(fresh) if fresh else {})
        except KafkaError as exc:
            await self._disconnect()
            raise TransientError(f"could not read consumer lag: {exc}") from exc
        return {(tp.topic, tp.partition): max(0, ends[tp] - done[tp]) for tp in tps}

    async def close(self) -> None:
        """Close the kept clients; a later read fails (the service is stopping)."""
        self._closed = True
        await self._disconnect()

    async def _disconnect(self) -> None:
        clients, self._clients = self._clients, None
        if clients is None:
            return
        admin, reader = clients
        with contextlib.suppress(KafkaError):
            await reader.stop()
        with contextlib.suppress(KafkaError):
            await admin.close()

    async def _connected(self) -> tuple[Any, Any]:
        if self._closed:
            raise TransientError("the lag reader is closed: its service is stopping")
        if self._clients is None:
            admin = kafka_client.admin(self._settings, self._principal, request_timeout_ms=5000)
            reader = kafka_client.consumer(
                self._settings, self._principal, group_id=None, enable_auto_commit=False,
                client_id=f"commande-lag-{uuid.uuid4().hex[:8]}")
            self._clients = (admin, reader)  # before starting: a failed start is closed too
            await admin.start()
            await reader.start()
        return self._clients


async def group_lag(settings: Settings, principal: str, group: str,
                    topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """One read of ``group``'s lag (:meth:`LagReader.read`) over clients made for it."""
    reader = LagReader(settings, principal)
    try:
        return await reader.read(group, topics)
    finally:
        await reader.close()
