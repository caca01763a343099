"""``commande topics apply`` on the real broker: drift reported, fixed on request, and the
operator principal is enough to do it."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
from typer.testing import CliRunner

from schemas.topics import DAY_MS, TopicSpec
from services.cli import topics_cmd
from services.runtime import kafka_client
from services.runtime.settings import Settings
from services.runtime.topics import reconcile
from tests.support.kafka import HARNESS, wait_for

pytestmark = pytest.mark.integration


async def test_a_retention_change_in_the_registry_is_reported_then_applied(
        settings: Settings) -> None:
    spec = TopicSpec(f"sandbox.test-topics-{uuid.uuid4().hex[:8]}", "k", "tests", "tests",
                     retention_ms=7 * DAY_MS, partitions=2)
    created, found = await reconcile(settings, HARNESS, [spec])
    assert (created, found) == ([spec.name], [])
    longer = dataclasses.replace(spec, retention_ms=30 * DAY_MS, partitions=3)
    _, found = await reconcile(settings, HARNESS, [longer])
    assert {(d.setting, d.have, d.want, d.fixable) for d in found} == {
        ("retention.ms", str(7 * DAY_MS), str(30 * DAY_MS), True), ("partitions", "2", "3", False)}
    await reconcile(settings, HARNESS, [longer], fix=True)

    async def settled() -> list[tuple[str, bool]] | None:  # the broker applies it in a moment
        _, after = await reconcile(settings, HARNESS, [longer])
        left = [(d.setting, d.fixable) for d in after]
        return left if left == [("partitions", False)] else None

    assert await wait_for(settled, timeout=15) == [("partitions", False)]
    admin = kafka_client.admin(settings, HARNESS)
    await admin.start()
    try:
        await admin.delete_topics([spec.name])
    finally:
        await admin.close()


async def test_the_operator_finds_the_stacks_topics_as_the_registry_says(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMANDE_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    result = await asyncio.to_thread(CliRunner().invoke, topics_cmd.app, ["apply"])
    assert result.exit_code == 0, result.output
    assert "every topic matches the registry" in result.output
