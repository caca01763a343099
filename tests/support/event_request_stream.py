"""The fixed stream of community event requests the analytics tests count by hand (January and
February 2026, three districts): acknowledgements, rejections, answers, reminders and a few
events analytics must not count."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from uuid import UUID

from schemas.base import Message
from schemas.event_requests import (
    EventRequestAcknowledged,
    EventRequestCommandRefused,
    EventRequestContactPurged,
    EventRequestDeclined,
    EventRequestRejected,
    EventRequestReminderDue,
    EventRequestScheduled,
    EventRequestWithdrawn,
    TimeWindow,
)
from schemas.referrals import Reason
from schemas.situations import SituationOpened
from tests.support.samples import sample


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
