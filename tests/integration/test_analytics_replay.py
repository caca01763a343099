"""Replay from real Kafka: equals the hand-computed expectations, has no side effects, repeats exactly.

Every test reads copies of the topics under its own prefix (``test.analytics.<uuid>.``): no
synthetic history is written to the live topics, which other services are using.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
import typer
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from typer.testing import CliRunner

from schemas.envelope import Record
from services.analytics.replay import ReplayReport, resolve
from services.analytics.run import agency_types, run
from services.analytics.simulate import Plan, generate, publish
from services.analytics.synthetic import TimedRecord, epoch_ms
from services.cli import analytics_cmd
from services.runtime import kafka_client
from services.runtime.settings import Settings
from tests.support.analytics_samples import (
    GENERATED,
    MEASURES_CSV,
    ROW_1,
    ROW_2,
    STATISTICS_ROWS,
    fixed_stream,
    horizon,
)
from tests.support.kafka import HARNESS, read_all

pytestmark = pytest.mark.integration

SITUATIONS = "commande.situations.v1"
GARBAGE = TimedRecord(
    Record(topic=SITUATIONS, key=b"garbage", value=b"{not json",
           headers=[("ce_type", b"ca.halton.commande.situation.opened.v1")]),
    epoch_ms(horizon()),
)
"""An undecodable record (no ce_specversion, no body): counted and skipped, never fatal."""


async def _admin(settings: Settings) -> AIOKafkaAdminClient:
    admin = kafka_client.admin(settings, HARNESS, request_timeout_ms=15000)
    await admin.start()
    return admin


async def _delete_prefixed(settings: Settings, prefix: str) -> None:
    admin = await _admin(settings)
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


@pytest.fixture(scope="module")
async def prefix(settings: Settings) -> AsyncIterator[str]:
    """Copies of the topics holding the fixed stream and one undecodable record."""
    name = f"sandbox.test-analytics-{uuid.uuid4().hex[:12]}."
    await publish(settings, iter([*fixed_stream(), GARBAGE]), prefix=name)
    yield name
    await _delete_prefixed(settings, name)


async def _replay(settings: Settings, prefix: str, projection: str, out: Path,
                  start: datetime | None = None, end: datetime | None = None,
                  workers: int | None = None) -> ReplayReport:
    outcome = await run(settings, projection, resolve([prefix + SITUATIONS]), out,
                        start=start, end=end, types=agency_types(), generated_at=GENERATED,
                        workers=workers)
    return outcome.report


def _files(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_replay_equals_hand_computed_expectations(
        settings: Settings, prefix: str, tmp_path: Path) -> None:
    read = await _replay(settings, prefix, "statistics", tmp_path)
    assert (read.records, read.events) == (69, 68)
    assert dict(read.undecodable) == {"MissingHeader": 1}
    assert (tmp_path / "statistics.csv").read_text().startswith(
        "table,key,key_2,label,label_2,count,suppression\n" + STATISTICS_ROWS)
    assert (tmp_path / "measures.csv").read_text() == MEASURES_CSV

    await _replay(settings, prefix, "provincial", tmp_path / "rows")
    lines = (tmp_path / "rows" / "provincial_rows_restricted.csv").read_text().splitlines()
    assert len(lines) == 9
    assert (lines[1], lines[2]) == (ROW_1, ROW_2)


async def test_replay_from_and_to_times(settings: Settings, prefix: str, tmp_path: Path) -> None:
    start = datetime(2026, 2, 1, tzinfo=UTC)
    end = datetime(2026, 3, 1, tzinfo=UTC)
    read = await _replay(settings, prefix, "statistics", tmp_path, start, end)
    in_range = [r for r in fixed_stream() if epoch_ms(start) <= r.timestamp_ms < epoch_ms(end)]
    # S1-S4 conclusions 4, S7 10, S8 6, S9 8, S10 1 (S7 and S8 conclude in March)
    assert read.events == len(in_range) == 29
    assert not read.undecodable
    with (tmp_path / "measures.csv").open() as fh:
        values = {row["measure"]: row["count"] for row in csv.DictReader(fh)}
    # February: S10 opens (03:00Z on the 1st), S7-S9 open, S1-S4 are concluded on the 10th.
    assert values["situations"] == "8"


async def test_two_replays_are_byte_identical(
        settings: Settings, prefix: str, tmp_path: Path) -> None:
    for projection in ("statistics", "provincial", "timeline"):
        await _replay(settings, prefix, projection, tmp_path / "a" / projection)
        await _replay(settings, prefix, projection, tmp_path / "b" / projection)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    # statistics: 3 datasets x (CSV, Parquet), 2 dictionaries, workbook, report, replay.json;
    # provincial and timeline: 1 dataset each (restricted), 2 dictionaries, replay.json
    assert len(files) == 11 + 5 + 5
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


async def test_worker_processes_write_what_one_process_writes(
        settings: Settings, prefix: str, tmp_path: Path) -> None:
    for projection in ("statistics", "provincial", "timeline"):
        one = await _replay(settings, prefix, projection, tmp_path / "one" / projection, workers=1)
        two = await _replay(settings, prefix, projection, tmp_path / "two" / projection, workers=2)
        assert (one.readers, two.readers) == (1, 2), projection
        assert (one.records, one.events, one.undecodable) == (
            two.records, two.events, two.undecodable)
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    assert len(_files(tmp_path / "one")) == 11 + 5 + 5


async def test_a_key_on_partitions_of_two_workers_is_read_again_in_one_process(
        settings: Settings, prefix: str, tmp_path: Path) -> None:
    # One SLA warning of a situation keyed so that it lands on another partition than the
    # situation's other events: a topic whose partition count changed after it was written.
    # Where the warning is read does not change the statistics (a warning is counted once per
    # situation): they must be those of the topic keyed as written.
    stream = fixed_stream()
    warning = next(i for i, r in enumerate(stream)
                   if dict(r.record.headers)["ce_type"].endswith(b".sla_warning.v1"))
    record = stream[warning].record
    partitions = list(range(6))
    home = DefaultPartitioner()(record.key, partitions, partitions)
    moved = next(k for k in (f"moved-{n}".encode() for n in range(100))
                 if DefaultPartitioner()(k, partitions, partitions) != home)
    stream[warning] = dataclasses.replace(stream[warning],
                                          record=dataclasses.replace(record, key=moved))
    name = f"sandbox.test-analytics-{uuid.uuid4().hex[:12]}."
    await publish(settings, iter(stream), prefix=name)
    try:
        expected = await _replay(settings, prefix, "statistics", tmp_path / "keyed", workers=1)
        # as many workers as partitions: each partition holding records is read by its own
        read = await _replay(settings, name, "statistics", tmp_path / "moved", workers=6)
    finally:
        await _delete_prefixed(settings, name)
    for csv_name in ("statistics.csv", "measures.csv"):
        assert (tmp_path / "moved" / csv_name).read_bytes() == (
            tmp_path / "keyed" / csv_name).read_bytes()
    assert read.events == expected.events == 68
    assert read.readers == 1


async def test_replay_has_no_side_effects(settings: Settings, prefix: str, tmp_path: Path) -> None:
    topic = prefix + SITUATIONS
    group = prefix + "live-group"
    live = kafka_client.consumer(settings, HARNESS, topic, group_id=group,
                                 enable_auto_commit=False, auto_offset_reset="earliest")
    await live.start()
    admin = await _admin(settings)
    try:
        got = 0
        while got < 20:
            batch = await live.getmany(timeout_ms=1000, max_records=20 - got)
            got += sum(len(recs) for recs in batch.values())
        await live.commit()
        assignment = set(live.assignment())
        committed = await admin.list_consumer_group_offsets(group)
        assert sum(o.offset for o in committed.values()) == 20
        mine = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        ends = {t: await _end_offsets(settings, t) for t in mine}

        for projection in ("statistics", "provincial", "timeline"):
            await _replay(settings, prefix, projection, tmp_path / projection)

        assert await admin.list_consumer_group_offsets(group) == committed
        assert set(live.assignment()) == assignment  # no rebalance was triggered
        assert sorted(t for t in await admin.list_topics() if t.startswith(prefix)) == mine
        assert {t: await _end_offsets(settings, t) for t in mine} == ends
        for group_id, *_ in await admin.list_consumer_groups():
            if group_id == group:
                continue
            offsets = await admin.list_consumer_group_offsets(group_id)
            assert not any(tp.topic.startswith(prefix) for tp in offsets), group_id
    finally:
        await admin.close()
        await live.stop()


async def _end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    consumer = kafka_client.consumer(settings, HARNESS, group_id=None)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic))]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: ends[tp] for tp in tps}
    finally:
        await consumer.stop()


async def test_report_renders_with_images(settings: Settings, prefix: str, tmp_path: Path) -> None:
    await _replay(settings, prefix, "statistics", tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    images = html.count('src="data:image/png;base64,iVBORw0KGgo')
    assert images == html.count("<img ") >= 20  # a chart per table
    assert "<td class=\"count\">&lt;5</td>" in html
    assert "(generated 2026-12-02 01:00 UTC)</h1>" in html


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """The CLI configures logging for the process: put the test session's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _cli() -> typer.Typer:
    """The ``commande`` app wired the way services/cli/__init__.py is meant to wire it."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """commande."""

    app.add_typer(analytics_cmd.replay_app, name="replay")
    app.add_typer(analytics_cmd.simulate_app, name="simulate")
    return app


async def test_cli_simulate_then_replay(settings: Settings, tmp_path: Path, cli_logging: None) -> None:
    name = f"sandbox.test-analytics-{uuid.uuid4().hex[:12]}."
    env = {"COMMANDE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}  # as the real principals
    runner = CliRunner()
    try:
        result = await asyncio.to_thread(runner.invoke, _cli(), [
            "simulate", "events", "--situations", "40", "--seed", "5", "--topic-prefix", name],
            env=env)
        assert result.exit_code == 0, result.output
        expected = [r for r in generate(Plan(situations=40, seed=5)) if r.record.topic == SITUATIONS]
        assert f"{name}{SITUATIONS}: {len(expected)} records" in result.output
        written = await read_all(settings, name + SITUATIONS)
        assert sorted(r.value for r in written) == sorted(r.record.value for r in expected)

        result = await asyncio.to_thread(runner.invoke, _cli(), [
            "replay", "--from", "beginning", "--projection", "provincial",
            "--out", str(tmp_path), "--topic", name + SITUATIONS], env=env)
        assert result.exit_code == 0, result.output
        assert f"replayed {len(expected)} events (0 undecodable records skipped)" in result.output
        assert (tmp_path / "provincial_rows_restricted.parquet").exists()

        result = await asyncio.to_thread(runner.invoke, _cli(), [
            "replay", "--from", "beginning", "--projection", "statistics", "--protection",
            "round5", "--out", str(tmp_path / "rounded"), "--topic", name + SITUATIONS], env=env)
        assert result.exit_code == 0, result.output
        with (tmp_path / "rounded" / "statistics.csv").open() as fh:
            counts = [r["count"] for r in csv.DictReader(fh)]
        assert any(int(c) >= 5 for c in counts if c)
        assert all(int(c) % 5 == 0 for c in counts if c)
        assert "rounded to base 5" in (tmp_path / "rounded" / "report.html").read_text()

        refused = await asyncio.to_thread(runner.invoke, _cli(), [
            "replay", "--from", "beginning", "--projection", "provincial",
            "--out", str(tmp_path / "no"), "--topic", "commande.disclosures.v1"], env=env)
        assert refused.exit_code != 0
        assert "restricted" in str(refused.exception)
        assert not (tmp_path / "no").exists()
    finally:
        await _delete_prefixed(settings, name)
