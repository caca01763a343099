"""Create the registry's topics on a broker, idempotently."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from schemas.errors import TransientError
from schemas.topics import TOPICS, TopicSpec

TOPIC_ALREADY_EXISTS = 36


async def ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...] = TOPICS) -> list[str]:
    """Create every topic of ``specs`` that does not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        await admin.start()
    except KafkaError as exc:
        raise TransientError(f"Kafka at {bootstrap} is not reachable: {exc}") from exc
    try:
        existing = set(await admin.list_topics())
        wanted = [s for s in specs if s.name not in existing]
        if not wanted:
            return []
        resp = await admin.create_topics(
            [NewTopic(s.name, s.partitions, 1, topic_configs=s.config()) for s in wanted]
        )
        created = []
        for name, code, *_ in resp.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TOPIC_ALREADY_EXISTS:
                raise TransientError(f"creating topic {name} failed with Kafka error {code}")
        return sorted(created)
    finally:
        await admin.close()
