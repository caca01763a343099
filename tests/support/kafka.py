"""Reading topics back in tests: every record this test session wrote, up to the end offsets now.

The stack's shared topics are read from where they ended when the session began
(:func:`pin_session_start`, called by the ``settings`` fixture), not from the beginning: a
development stack that demos and benches have used holds hundreds of thousands of records that no
test wrote, and reading them all made a test's every poll take seconds.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import TopicPartition

from deploy.local.kafka_security import SUPER_USER
from schemas.topics import TOPICS
from services.runtime import kafka_client
from services.runtime.kafka import InRecord, partitions, partitions_of
from services.runtime.settings import Settings

T = TypeVar("T")

_SESSION_START: dict[str, dict[int, int]] = {}
"""``{topic: {partition: end offset}}`` of the shared topics when the session began."""

HARNESS = SUPER_USER
"""Test and bench harnesses stand in for every role (partners, services, operators): they connect
as the embedded broker's super user. The ACL tests connect as the real principals."""


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """``{partition: end offset}`` of ``topic`` now (to read only what comes after)."""
    return (await _ends(settings, [topic]))[topic]


async def pin_session_start(settings: Settings) -> None:
    """Remember where every shared topic (:data:`~schemas.topics.TOPICS`) ends now: the
    session's :func:`read_all` reads them from there."""
    _SESSION_START.update(await _ends(settings, [spec.name for spec in TOPICS]))


async def _ends(settings: Settings, topics: list[str]) -> dict[str, dict[int, int]]:
    admin = kafka_client.admin(settings, HARNESS)
    await admin.start()
    try:
        found = await partitions_of(admin, topics)  # one metadata request for every topic
    finally:
        await admin.close()
    consumer = kafka_client.consumer(settings, HARNESS, group_id=None,
                                     client_id=f"test-reader-{uuid.uuid4()}")
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in found.get(t, [])]
        out: dict[str, dict[int, int]] = {t: {} for t in topics}
        for tp, offset in (await consumer.end_offsets(tps)).items():
            out[tp.topic][tp.partition] = offset
        return out
    finally:
        await consumer.stop()


async def read_all(settings: Settings, topic: str, *, timeout: float = 20.0,
                   since: dict[int, int] | None = None) -> list[InRecord]:
    """Every record on ``topic`` (all partitions) up to the end offsets at call time, from
    ``since``'s offsets when given, else from where a shared topic ended when the session began
    (:func:`pin_session_start`), else from the beginning (a test's scratch topic)."""
    since = since if since is not None else _SESSION_START.get(topic)
    consumer = kafka_client.consumer(settings, HARNESS, enable_auto_commit=False,
                                     group_id=None, client_id=f"test-reader-{uuid.uuid4()}")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions(settings, HARNESS, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        for tp in tps:
            if since is not None and tp.partition in since:
                consumer.seek(tp, since[tp.partition])
        end = await consumer.end_offsets(tps)
        out: list[InRecord] = []
        remaining = {tp for tp in tps if end[tp] > (since or {}).get(tp.partition, 0)}
        deadline = asyncio.get_running_loop().time() + timeout
        while remaining:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"reading {topic} timed out")
            batch = await consumer.getmany(timeout_ms=500)
            for tp, recs in batch.items():
                for rec in recs:
                    if rec.offset < end[tp]:
                        out.append(InRecord.from_consumer_record(rec))
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def wait_for(predicate: Callable[[], Awaitable[T | None]], *, timeout: float = 30.0,
                   every: float = 0.2) -> T:
    """Poll the async ``predicate`` until it returns a truthy value; that value is returned."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(every)


async def group_at_end(settings: Settings, group: str, topics: list[str]) -> None:
    """Commit ``group``'s offsets at the ends of ``topics`` now: a service started with it
    handles only what is published from here on, not what earlier tests left on the stack."""
    consumer = kafka_client.consumer(settings, HARNESS, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in await partitions(settings, HARNESS, t)]
        consumer.assign(tps)
        await consumer.commit(dict(await consumer.end_offsets(tps)))
    finally:
        await consumer.stop()
