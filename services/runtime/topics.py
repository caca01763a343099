"""The registry's topics on a broker: created by the stack or an operator, checked by services."""

from __future__ import annotations

from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError

from schemas.errors import ConfigurationError, TransientError
from schemas.topics import TOPICS, TopicSpec
from services.runtime import kafka_client
from services.runtime.kafka import partitions_of
from services.runtime.settings import Settings

TOPIC_ALREADY_EXISTS = 36


async def ensure_topics(settings: Settings, principal: str,
                        specs: tuple[TopicSpec, ...] = TOPICS) -> list[str]:
    """Create every topic of ``specs`` that does not exist yet, as ``principal`` (which needs
    CREATE: the stack's super user, the operator, or the simulator on sandbox copies); returns
    the names created."""
    admin = kafka_client.admin(settings, principal, request_timeout_ms=15000)
    try:
        await admin.start()
    except KafkaError as exc:
        raise TransientError(f"Kafka at {settings.kafka_bootstrap} is not reachable: {exc}") from exc
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


async def require_topics(settings: Settings, principal: str, names: list[str]) -> None:
    """Fail clearly unless every topic of ``names`` exists. Services never create topics (they
    have no CREATE right): the stack does, or a cluster's admin from the registry."""
    admin = kafka_client.admin(settings, principal, request_timeout_ms=15000)
    try:
        await admin.start()
    except KafkaError as exc:
        raise TransientError(f"Kafka at {settings.kafka_bootstrap} is not reachable: {exc}") from exc
    try:
        found = await partitions_of(admin, names)
    except KafkaError as exc:
        raise TransientError(f"Kafka metadata could not be read: {exc}") from exc
    finally:
        await admin.close()
    missing = sorted(set(names) - set(found))
    if missing:
        raise ConfigurationError(
            f"topics missing on {settings.kafka_bootstrap}: {', '.join(missing)}. `commande stack "
            "up` creates them on the embedded stack; on a cluster, its admin creates them from "
            "the registry (docs/operations.md, 'Topics and ACLs')")
