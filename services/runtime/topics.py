"""The registry's topics on a broker: created and reconciled by the stack or an operator
(``commande topics apply``), checked by services.

Replication and ``min.insync.replicas`` come from settings (``COMMANDE_KAFKA_REPLICATION_FACTOR``,
``COMMANDE_KAFKA_MIN_INSYNC_REPLICAS``: 3 and 2, or 1 and 1 in development, the embedded broker
being one node). A topic that exists is compared with the registry: its retention, cleanup
policy and ``min.insync.replicas`` are set back to the registry's when asked (``--fix``); fewer
partitions or replicas than the registry's are reported, never changed here (more partitions
move keys between partitions, which breaks the order per key of records in flight; more replicas
need a reassignment plan).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from schemas.errors import ConfigurationError, TransientError
from schemas.topics import TOPICS, TopicSpec
from services.runtime import kafka_client
from services.runtime.settings import Settings

TOPIC_ALREADY_EXISTS = 36
TOPIC_AUTHORIZATION_FAILED = 29


@dataclass(frozen=True, slots=True)
class Drift:
    """A difference between a topic on the broker and its registry entry."""

    topic: str
    setting: str
    have: str
    want: str
    fixable: bool
    """Whether ``--fix`` sets it back (topic configs); partitions and replicas are reported."""


def wanted_config(spec: TopicSpec, settings: Settings) -> dict[str, str]:
    """The topic-level configuration the registry and settings ask for."""
    return {**spec.config(), "min.insync.replicas": str(settings.min_insync_replicas)}


def drift(spec: TopicSpec, settings: Settings, config: dict[str, str], partitions: int,
          replicas: int) -> list[Drift]:
    """What differs between ``spec`` and a topic with ``config``, ``partitions``, ``replicas``
    (pure)."""
    out = [Drift(spec.name, key, config.get(key, "(unset)"), value, True)
           for key, value in wanted_config(spec, settings).items() if config.get(key) != value]
    if partitions < spec.partitions:
        out.append(Drift(spec.name, "partitions", str(partitions), str(spec.partitions), False))
    if replicas < settings.replication_factor:
        out.append(Drift(spec.name, "replication factor", str(replicas),
                         str(settings.replication_factor), False))
    return out


async def ensure_topics(settings: Settings, principal: str,
                        specs: tuple[TopicSpec, ...] = TOPICS) -> list[str]:
    """Create every topic of ``specs`` that does not exist yet, as ``principal`` (which needs
    CREATE: the stack's super user, the operator, or the simulator on sandbox copies); returns
    the names created."""
    created, _ = await reconcile(settings, principal, specs, inspect=False, fix=False)
    return created


async def reconcile(settings: Settings, principal: str, specs: Sequence[TopicSpec] = TOPICS, *,
                    inspect: bool = True, fix: bool = False) -> tuple[list[str], list[Drift]]:
    """Create the missing topics of ``specs``; with ``inspect``, compare the others with the
    registry, and with ``fix`` set their configuration back to it. Returns the topics created
    and every drift found (fixed ones included)."""
    async with _admin(settings, principal) as admin:
        existing = set(await admin.list_topics())
        created = await _create(admin, settings, [s for s in specs if s.name not in existing])
        present = [s for s in specs if s.name in existing]
        if not inspect or not present:
            return created, []
        found = await _inspect(admin, settings, present)
        if fix:
            await _alter(admin, settings, [s for s in present
                                           if any(d.fixable for d in found if d.topic == s.name)])
        return created, found


@contextlib.asynccontextmanager
async def _admin(settings: Settings, principal: str) -> AsyncIterator[Any]:
    """A started admin client of ``principal``; Kafka's errors become :class:`TransientError`."""
    admin = kafka_client.admin(settings, principal, request_timeout_ms=15000)
    try:
        await admin.start()
    except KafkaError as exc:
        raise TransientError(f"Kafka at {settings.kafka_bootstrap} is not reachable: {exc}") from exc
    try:
        yield admin
    except KafkaError as exc:
        raise TransientError(f"Kafka's admin requests failed: {exc}") from exc
    finally:
        await admin.close()


async def _create(admin: Any, settings: Settings, wanted: list[TopicSpec]) -> list[str]:
    if not wanted:
        return []
    resp = await admin.create_topics(
        [NewTopic(s.name, s.partitions, settings.replication_factor,
                  topic_configs=wanted_config(s, settings)) for s in wanted])
    created = []
    for name, code, *_ in resp.topic_errors:
        if code == 0:
            created.append(name)
        elif code != TOPIC_ALREADY_EXISTS:
            raise TransientError(f"creating topic {name} failed with Kafka error {code}")
    return sorted(created)


async def _inspect(admin: Any, settings: Settings, specs: list[TopicSpec]) -> list[Drift]:
    described = {d["topic"]: d for d in await admin.describe_topics([s.name for s in specs])}
    configs: dict[str, dict[str, str]] = {}
    for resp in await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs]):
        for _code, _message, _type, name, entries, *_ in resp.resources:
            configs[name] = {str(e[0]): str(e[1]) for e in entries}
    out: list[Drift] = []
    for spec in specs:
        parts = described.get(spec.name, {}).get("partitions", [])
        replicas = min((len(p["replicas"]) for p in parts), default=0)
        out.extend(drift(spec, settings, configs.get(spec.name, {}), len(parts), replicas))
    return out


async def _alter(admin: Any, settings: Settings, specs: list[TopicSpec]) -> None:
    if not specs:
        return
    # AlterConfigs replaces a topic's dynamic configuration with the given set: the registry's
    # whole set is given, so nothing it does not name is kept.
    for resp in await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, s.name, wanted_config(s, settings))
             for s in specs]):
        for code, message, _type, name in resp.resources:
            if code != 0:
                raise TransientError(f"altering topic {name} failed with Kafka error {code}: "
                                     f"{message}")


async def require_topics(settings: Settings, principal: str, names: list[str]) -> None:
    """Fail clearly unless every topic of ``names`` exists. Services never create topics (they
    have no CREATE right): the stack does, or a cluster's admin from the registry."""
    async with _admin(settings, principal) as admin:
        described = await admin.describe_topics(list(names))
    refused = sorted(d["topic"] for d in described
                     if d.get("error_code") == TOPIC_AUTHORIZATION_FAILED)
    if refused:
        raise ConfigurationError(
            f"principal {kafka_client.username(settings, principal)!r} may not use "
            f"{', '.join(refused)} on {settings.kafka_bootstrap}: the broker holds an older ACL "
            "table. `commande stack up` applies the current one on the embedded stack; on a "
            "cluster, its admin applies `commande stack acls` (docs/operations.md, 'Principals')")
    found = {d["topic"] for d in described if d.get("error_code", 0) == 0}
    missing = sorted(set(names) - found)
    if missing:
        raise ConfigurationError(
            f"topics missing on {settings.kafka_bootstrap}: {', '.join(missing)}. `commande stack "
            "up` creates them on the embedded stack; on a cluster, `commande topics apply` as the "
            "operator (docs/operations.md, 'Topics')")
