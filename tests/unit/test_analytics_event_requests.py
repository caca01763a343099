"""Community event requests in analytics: the fold, the counts (hand-computed), the export with
small cells suppressed, the report section, and the synthetic generator."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time
from pathlib import Path
from uuid import UUID

import pyarrow.parquet as pq
import pytest

from schemas.base import Message
from schemas.envelope import Envelope, from_record, to_record
from schemas.event_requests import (
    EventRequestAcknowledged,
    EventRequestCommandRefused,
    EventRequestConfirmationRequested,
    EventRequestConfirmed,
    EventRequestContactPurged,
    EventRequestDeclined,
    EventRequestExpired,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestWithdrawn,
    TimeWindow,
)
from schemas.referrals import Reason
from schemas.situations import SituationOpened
from services.analytics import exports, release, report
from services.analytics.projections import event_requests as er
from services.analytics.projections.statistics import summarize as summarize_situations
from services.analytics.simulate import Plan, generate
from tests.support.samples import sample

pytestmark = pytest.mark.unit


def rid(n: int) -> UUID:
    return UUID(f"0194a1b2-0000-7000-8000-0000000001{n:02d}")


def at(month: int, day: int, hour: int = 15) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def window(month: int, day: int) -> tuple[TimeWindow, ...]:
    return (TimeWindow(date=date(2026, month, day), start=time(18, 30), end=time(20, 0)),
            TimeWindow(date=date(2026, month, day + 7), start=time(18, 30), end=time(20, 0)))


def ack(n: int, district: str, kind: str, when: datetime, first: tuple[int, int],
        topics: tuple[str, ...] = ()) -> EventRequestAcknowledged:
    return sample(EventRequestAcknowledged, request_id=rid(n), district=district, kind=kind,
                  municipality="milton", windows=window(*first), topics=topics,
                  acknowledged_at=when)


def reason(code: str) -> Reason:
    return Reason(code=code, field="windows", message="Synthetic reason.")


def events() -> list[Message]:
    return [
        ack(1, "district_1", "speaker", at(1, 10), (3, 1), ("fraud_scams", "seniors_safety")),
        ack(2, "district_1", "speaker", at(1, 20), (3, 2), ("seniors_safety",)),
        # 03:00Z on 1 February is 31 January in Halton: counted in January
        ack(3, "district_2", "district_tour", at(2, 1, 3), (4, 1)),
        sample(EventRequestRejected, request_id=rid(4), rejected_at=at(1, 5), kind="speaker",
               district="district_3", municipality="burlington",
               reasons=(reason("notice_too_short"), reason("detail_missing"))),
        sample(EventRequestRejected, request_id=rid(5), rejected_at=at(2, 10), kind=None,
               district=None, municipality=None,
               reasons=(reason("municipality_outside_halton"),)),
        ack(6, "district_3", "event_participation", at(2, 12), (4, 3)),
        sample(EventRequestScheduled, request_id=rid(1), district="district_1",
               scheduled_at=at(1, 15)),
        sample(EventRequestReminderDue, request_id=rid(2), district="district_1",
               escalate_to="cmb_manager", due_at=at(1, 25)),
        sample(EventRequestReminderDue, request_id=rid(2), district="district_1",
               escalate_to="staff_sergeant", due_at=at(1, 28)),
        sample(EventRequestDeclined, request_id=rid(2), district="district_1",
               reason="no_capacity", declined_at=at(1, 29)),
        sample(EventRequestWithdrawn, request_id=rid(3), district="district_2",
               reason="event_cancelled", withdrawn_at=at(2, 5)),
        # a request whose answer is outside the range: not counted
        sample(EventRequestScheduled, request_id=rid(7), district="district_2",
               scheduled_at=at(2, 3)),
        # a rejected duplicate does not undo an acknowledgement
        sample(EventRequestRejected, request_id=rid(6), rejected_at=at(2, 13),
               reasons=(reason("duplicate"),)),
        sample(EventRequestCommandRefused, request_id=rid(1)),
        sample(EventRequestContactPurged, request_id=rid(1)),
        sample(SituationOpened),
    ]


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
