"""The broker's trust boundary, tried as an outsider, a partner and each service would.

The embedded broker serves SASL_SSL only, authenticates SCRAM-SHA-512 users and authorizes them
against the ACL table of :mod:`schemas.access` (deny by default).
"""

from __future__ import annotations

import uuid

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from schemas.access import SERVICES, partner
from schemas.errors import ConfigurationError
from schemas.topics import DLQ, SITUATIONS, TABLE_ACTIONS, TOPICS
from services.runtime import kafka_client
from services.runtime.settings import Settings
from services.runtime.topics import require_topics
from tests.support.kafka import HARNESS

pytestmark = pytest.mark.integration


def _secured(settings: Settings) -> None:
    if settings.kafka_security_protocol != "SASL_SSL":
        pytest.fail("these tests need the secured embedded stack (SASL_SSL)")


async def _start_fails(client: object) -> None:
    with pytest.raises(KafkaConnectionError):
        await client.start()  # type: ignore[attr-defined]
    await client.stop()  # type: ignore[attr-defined]


async def test_a_client_without_credentials_cannot_connect(settings: Settings) -> None:
    _secured(settings)
    plain = settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT", "env": "development"})
    await _start_fails(kafka_client.producer(plain, "nobody", request_timeout_ms=3000))


async def test_tls_without_a_password_cannot_connect(settings: Settings) -> None:
    _secured(settings)
    unknown = settings.model_copy(update={"kafka_username": f"stranger-{uuid.uuid4().hex[:6]}",
                                          "kafka_password": SecretStr("guessed-password")})
    await _start_fails(kafka_client.producer(unknown, "stranger", request_timeout_ms=3000))


async def test_a_wrong_password_is_refused(settings: Settings) -> None:
    _secured(settings)
    wrong = settings.model_copy(update={"kafka_password": SecretStr("not-intakes-password")})
    await _start_fails(kafka_client.producer(wrong, "intake", request_timeout_ms=3000))


async def _write_refused(settings: Settings, principal: str, topics: list[str]) -> list[str]:
    """The topics of ``topics`` that ``principal`` could write to (should be none)."""
    producer = kafka_client.producer(settings, principal, request_timeout_ms=5000)
    await producer.start()  # authenticated: the refusals below are authorization, not login
    allowed = []
    try:
        for topic in topics:
            try:
                await producer.send_and_wait(topic, b"must never land", key=b"acl-test")
            except TopicAuthorizationFailedError:
                continue
            allowed.append(topic)
    finally:
        await producer.stop()
    return allowed


@pytest.mark.parametrize("row", SERVICES, ids=lambda row: row.principal)
async def test_each_service_is_refused_on_topics_it_must_not_write(settings: Settings, row: object
                                                                  ) -> None:
    _secured(settings)
    principal = row.principal  # type: ignore[attr-defined]
    writes = {spec.name for spec in row.writes}  # type: ignore[attr-defined]
    forbidden = [spec.name for spec in TOPICS if spec.name not in writes]
    assert forbidden, principal
    assert await _write_refused(settings, principal, forbidden) == []


async def test_a_partner_cannot_write_commands_or_situations(settings: Settings) -> None:
    _secured(settings)
    principal = partner("hrps-cmb-d1").principal
    assert await _write_refused(settings, principal, [TABLE_ACTIONS.name, SITUATIONS.name]) == []


async def test_a_service_cannot_join_another_services_group(settings: Settings) -> None:
    _secured(settings)
    consumer = kafka_client.consumer(settings, "convening", SITUATIONS.name, group_id="intake",
                                     enable_auto_commit=False, request_timeout_ms=5000)
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await consumer.start()
    finally:
        await consumer.stop()


async def _read_partition(settings: Settings, principal: str, tp: TopicPartition, offset: int
                          ) -> list[bytes]:
    consumer = kafka_client.consumer(settings, principal, group_id=None, enable_auto_commit=False,
                                     request_timeout_ms=5000)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        batch = await consumer.getmany(tp, timeout_ms=3000)
        return [rec.value for rec in batch.get(tp, [])]
    finally:
        await consumer.stop()


async def test_analytics_cannot_read_a_restricted_topic(settings: Settings) -> None:
    """A record on the dead-letter topic (restricted: it may hold identity) is read by the
    harness and not by analytics, from the same offset."""
    _secured(settings)
    marker = f"acl-test-{uuid.uuid4()}".encode()
    producer = kafka_client.producer(settings, HARNESS)
    await producer.start()
    try:
        meta = await producer.send_and_wait(DLQ.name, marker, key=b"acl-test")
    finally:
        await producer.stop()
    tp = TopicPartition(DLQ.name, meta.partition)
    assert marker in await _read_partition(settings, HARNESS, tp, meta.offset)
    assert await _read_partition(settings, "analytics", tp, meta.offset) == []


async def test_a_service_without_the_right_to_a_topic_is_told_so_not_that_it_is_missing(
        settings: Settings) -> None:
    """An older ACL table on a cluster looks, to a metadata request, like a missing topic: the
    start says which it is, and what to apply."""
    _secured(settings)
    with pytest.raises(ConfigurationError, match=r"may not use commande\.disclosures\.v1"):
        await require_topics(settings, "analytics", ["commande.disclosures.v1"])
    with pytest.raises(ConfigurationError, match="topics missing on"):
        await require_topics(settings, HARNESS, ["commande.no-such-topic.v1"])
