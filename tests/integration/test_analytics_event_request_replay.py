"""Replaying community event requests from real Kafka (prefixed copies of the topics), through the
same ``run`` that ``commande replay`` calls; the restricted submissions topic is refused."""

from __future__ import annotations

import csv
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.envelope import to_record
from schemas.errors import ConfigurationError
from schemas.topics import EVENT_REQUEST_SUBMISSIONS, EVENT_REQUESTS, SITUATIONS
from services.analytics.replay import resolve
from services.analytics.run import agency_types, default_topics, run
from services.analytics.simulate import publish
from services.analytics.synthetic import TimedRecord, epoch_ms
from services.runtime import kafka_client
from services.runtime.settings import Settings
from tests.support.event_request_stream import events
from tests.support.kafka import HARNESS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def prefix(settings: Settings) -> AsyncIterator[str]:
    name = f"sandbox.test-analytics-er-{uuid.uuid4().hex[:12]}."
    base = epoch_ms(datetime(2026, 3, 1, tzinfo=UTC))  # Kafka time; the counts use event times
    records = [TimedRecord(to_record(e, source="/commande/tests"), base + n)
               for n, e in enumerate(events())]
    await publish(settings, iter(records), prefix=name)
    yield name
    admin = kafka_client.admin(settings, HARNESS)
    await admin.start()
    try:
        await admin.delete_topics([t for t in await admin.list_topics() if t.startswith(name)])
    finally:
        await admin.close()


async def test_statistics_replay_counts_event_requests(
        settings: Settings, prefix: str, tmp_path: Path) -> None:
    assert default_topics("statistics") == (SITUATIONS.name, EVENT_REQUESTS.name)
    sources = resolve([prefix + SITUATIONS.name, prefix + EVENT_REQUESTS.name])
    outcome = await run(settings, "statistics", sources, tmp_path, start=None,
                        end=None, types=agency_types())
    assert outcome.report.events == len(events())
    assert not outcome.report.undecodable
    with (tmp_path / "event_requests.csv").open() as fh:
        rows = {(r["table"], r["key"], r["key_2"]): (r["count"], r["suppression"])
                for r in csv.DictReader(fh)}
    assert rows[("total", "requests", "")] == ("6", "")
    assert rows[("answer", "acknowledged", "")] == ("", "small_cell")
    assert rows[("topic", "seniors_safety", "")] == ("", "small_cell")
    assert rows[("month", "2026-01", "")] == ("", "small_cell")
    assert ("outcome", "pending", "") in rows
    page = (tmp_path / "report.html").read_text()
    assert "<h2>Community event requests</h2>" in page
    with (tmp_path / "measures.csv").open() as fh:
        measures = {r["measure"]: (r["count"], r["suppression"]) for r in csv.DictReader(fh)}
    assert measures["situations"] == ("", "small_cell")  # the one SituationOpened of the sample


def test_the_restricted_submissions_topic_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        resolve([EVENT_REQUEST_SUBMISSIONS.name])
