"""Consumer lag: how far a consumer group's committed offsets are behind the partitions' ends."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from schemas.errors import TransientError
from services.runtime import kafka_client
from services.runtime.kafka import partitions_of
from services.runtime.settings import Settings


async def group_lag(settings: Settings, principal: str, group: str,
                    topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """``{(topic, partition): records behind}`` for ``group``. A partition without a committed
    offset counts from its first record still kept: where the group starts (it reads from the
    earliest), and where a partition none of whose records it ever got stays (a batch commits
    only the partitions it came from: :func:`services.runtime.service.commit`)."""
    admin = kafka_client.admin(settings, principal, request_timeout_ms=5000)
    reader = kafka_client.consumer(settings, principal, group_id=None, enable_auto_commit=False,
                                   client_id=f"commande-lag-{uuid.uuid4().hex[:8]}")
    try:
        await admin.start()
        await reader.start()
        committed = await admin.list_consumer_group_offsets(group)
        tps = [TopicPartition(topic, p)
               for topic, parts in (await partitions_of(admin, list(topics))).items() for p in parts]
        ends = await reader.end_offsets(tps) if tps else {}
        done = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
        fresh = [tp for tp in tps if tp not in done]
        done.update(await reader.beginning_offsets(fresh) if fresh else {})
        lag: dict[tuple[str, int], int] = {}
        for tp in tps:
            lag[(tp.topic, tp.partition)] = max(0, ends[tp] - done[tp])
        return lag
    except KafkaError as exc:
        raise TransientError(f"could not read consumer lag: {exc}") from exc
    finally:
        with contextlib.suppress(KafkaError):
            await reader.stop()
        with contextlib.suppress(KafkaError):
            await admin.close()
