"""Community event requests in analytics: the fold, the counts (hand-computed), the export with
small cells suppressed, the report section, and the synthetic generator."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from schemas.base import Message
from schemas.envelope import Envelope, from_record, to_record
from schemas.event_requests import (
    EventRequestConfirmationRequested,
    EventRequestConfirmed,
    EventRequestContactPurged,
    EventRequestExpired,
)
from services.analytics import exports, release, report
from services.analytics.projections import event_requests as er
from services.analytics.projections.statistics import summarize as summarize_situations
from services.analytics.simulate import Plan, generate
from tests.support.event_request_stream import ack, at, events, rid
from tests.support.samples import sample

pytestmark = pytest.mark.unit


def envelopes() -> list[Envelope[Message]]:
    out = []
    for e in events():
        rec = to_record(e, source="/commande/tests")
        out.append(from_record(rec.headers, rec.value, topic=rec.topic))
    return out


def stats() -> er.RequestStatistics:
    store = er.ByRequest()
    for env in envelopes():
        store.apply(env)
    return er.summarize(store.states())


def test_counts_equal_hand_computed() -> None:
    s = stats()
    assert s.requests == 6
    c = s.counts
    assert c["answer"] == {("acknowledged",): 4, ("rejected",): 2}
    assert c["district"] == {("district_1",): 2, ("district_2",): 1, ("district_3",): 2,
                             ("unknown",): 1}
    assert c["kind"] == {("district_tour",): 1, ("event_participation",): 1, ("speaker",): 3,
                         ("unknown",): 1}
    assert c["month"] == {("2026-01",): 4, ("2026-02",): 2}
    assert c["month_district"] == {
        ("2026-01", "district_1"): 2, ("2026-01", "district_2"): 1,
        ("2026-01", "district_3"): 1, ("2026-02", "district_3"): 1, ("2026-02", "unknown"): 1}
    assert c["event_month"] == {("2026-03",): 2, ("2026-04",): 2}
    assert c["topic"] == {("fraud_scams",): 1, ("seniors_safety",): 2}
    assert c["outcome"] == {("declined",): 1, ("pending",): 1, ("scheduled",): 1,
                            ("withdrawn",): 1}
    assert c["outcome_district"][("pending", "district_3")] == 1
    assert c["decline_reason"] == {("no_capacity",): 1}
    assert c["withdrawal_reason"] == {("event_cancelled",): 1}
    assert c["rejection_reason"] == {("detail_missing",): 1, ("municipality_outside_halton",): 1,
                                     ("notice_too_short",): 1}
    assert c["follow_up"] == {("escalated",): 1, ("reminded",): 1}


def test_requests_from_the_public_count_as_pending_until_confirmed_and_expired_after() -> None:
    """A public request: asked to confirm (pending), then confirmed and acknowledged, or never
    confirmed (expired); counted in the month it was received, by answer, district and kind."""
    asked = [sample(EventRequestConfirmationRequested, request_id=rid(n), district=d,
                    kind="speaker", requested_at=at(3, 30, 20)) for n, d in
             ((11, "district_1"), (12, "district_2"), (13, None))]
    later = [sample(EventRequestConfirmed, request_id=rid(11), confirmed_at=at(4, 1)),
             ack(11, "district_1", "speaker", at(4, 1), (5, 1)),
             sample(EventRequestExpired, request_id=rid(13), expired_at=at(4, 2), district=None),
             sample(EventRequestContactPurged, request_id=rid(13))]
    store = er.ByRequest()
    for e in [*asked, *later]:
        rec = to_record(e, source="/commande/tests")
        store.apply(from_record(rec.headers, rec.value, topic=rec.topic))
    s = er.summarize(store.states())
    assert s.requests == 3
    c = s.counts
    assert c["answer"] == {("acknowledged",): 1, ("expired",): 1, ("pending",): 1}
    assert c["month"] == {("2026-03",): 3}  # received 30 March, acknowledged in April
    assert c["district"] == {("district_1",): 1, ("district_2",): 1, ("unknown",): 1}
    assert c["outcome"] == {("pending",): 1}  # outcomes: acknowledged requests only
    assert c["event_month"] == {("2026-05",): 1}


def test_order_of_requests_does_not_matter() -> None:
    store = er.ByRequest()
    for env in reversed(envelopes()[:6]):  # each request's own events stay in order
        store.apply(env)
    forward = er.ByRequest()
    for env in envelopes()[:6]:
        forward.apply(env)
    assert er.summarize(store.states()) == er.summarize(forward.states())


def _release() -> release.Release:
    return release.build(summarize_situations([]), stats())


def test_export_suppresses_small_cells_and_the_dictionary_defines_every_table(
        tmp_path: Path) -> None:
    exports.write(tmp_path, [exports.event_request_dataset(_release())])
    with (tmp_path / "event_requests.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0] == {"table": "total", "key": "requests", "key_2": "", "label": "Requests",
                       "label_2": "", "count": "6", "suppression": ""}
    assert {"table": "answer", "key": "acknowledged", "key_2": "", "label": "Acknowledged",
            "label_2": "", "count": "", "suppression": "small_cell"} in rows
    # every cell of this small sample is under 5
    assert all(r["count"] == "" and r["suppression"] == "small_cell"
               for r in rows[1:] if r["key"] != "total")
    totals = {r["table"]: r["count"] for r in rows if r["key"] == "total"}
    # 6 requests in all; the outcomes add up to the acknowledged ones, under 5: hidden
    assert totals == {"answer": "6", "district": "6", "kind": "6", "month": "6", "outcome": ""}
    with (tmp_path / "data_dictionary.csv").open() as fh:
        entries = {(r["file"], r["column"]) for r in csv.DictReader(fh)}
    for name, _ in er.TABLES:
        assert ("event_requests", name) in entries
    table = pq.read_table(tmp_path / "event_requests.parquet")
    assert str(table.schema.field("count").type) == "int64"
    assert table.to_pylist()[0]["count"] == 6


def test_the_report_has_an_event_requests_section() -> None:
    page = report.render(_release(), title="t", context=[])
    assert "<h2>Community event requests</h2>" in page
    assert "Acknowledged requests by topic" in page
    assert '<td class="count">6</td>' in page  # the total
    assert "Seniors" in page  # topics by their reference names
    assert "Community event requests" not in report.render(
        release.build(summarize_situations([])), title="t", context=[])


def test_the_simulator_adds_requests_without_changing_the_situations() -> None:
    plan = Plan(situations=5, seed=3, start=date(2025, 1, 1), months=3)
    with_requests = list(generate(Plan(situations=5, seed=3, start=date(2025, 1, 1), months=3,
                                       event_requests=40)))
    assert with_requests == list(generate(Plan(situations=5, seed=3, start=date(2025, 1, 1),
                                               months=3, event_requests=40)))
    situations = [r for r in with_requests if r.record.topic != "commande.event-requests.v1"]
    assert situations == list(generate(plan))
    asked = [r for r in with_requests if r.record.topic == "commande.event-requests.v1"]
    assert [r.timestamp_ms for r in with_requests] == sorted(r.timestamp_ms for r in with_requests)
    store = er.ByRequest()
    for r in asked:
        store.apply(from_record(r.record.headers, r.record.value, topic=r.record.topic))
    assert er.summarize(store.states()).requests == 40
