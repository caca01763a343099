"""A full meeting sends the next situation on: routine to the next regular meeting, urgent to
the next meeting in its 24 hours with room, else its own ad-hoc meeting."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from uuid6 import uuid7

from directory import Cadence, TableSettings
from services.convening.model import MeetingKind, SituationBrief
from services.convening.scheduling import adhoc_meeting, overflow, place

pytestmark = pytest.mark.unit

TORONTO = ZoneInfo("America/Toronto")
TABLE = TableSettings(district="district_2", location="Station (synthetic)",
                      cadence=Cadence(weekday="wednesday", local_time=time(10, 0),
                                      skip_dates=(datetime(2025, 6, 11).date(),)))
MONDAY = datetime(2025, 6, 2, 9, tzinfo=TORONTO)


def brief(priority: str, arrival: datetime = MONDAY) -> SituationBrief:
    return SituationBrief(situation_id=uuid7(), district="district_2",
                          originating_agency="housing-services", priority=priority,
                          arrived_at=arrival, risk_categories=("housing",))


def test_a_routine_situation_overflows_to_the_next_regular_meeting_skipping_skip_dates() -> None:
    situation = brief("routine")
    full = place(TABLE, situation, ()).meeting
    assert full.starts_at == datetime(2025, 6, 4, 10, tzinfo=TORONTO)
    after = overflow(TABLE, situation, full)
    assert after.kind is MeetingKind.REGULAR
    assert after.starts_at == datetime(2025, 6, 18, 10, tzinfo=TORONTO)  # 11 June is skipped
    assert after == overflow(TABLE, brief("routine"), full).model_copy(
        update={"scheduled_at": situation.arrived_at}), "every situation agrees on the meeting id"


def test_an_urgent_situation_overflows_from_a_full_regular_meeting_to_its_own_ad_hoc_one() -> None:
    situation = brief("urgent", datetime(2025, 6, 3, 11, tzinfo=TORONTO))
    full = place(TABLE, situation, ()).meeting
    assert full.kind is MeetingKind.REGULAR  # Wednesday 10:00 is within 24 hours
    after = overflow(TABLE, situation, full)
    assert after == adhoc_meeting(TABLE, situation)
    assert after.kind is MeetingKind.ADHOC
    assert after.starts_at - situation.arrived_at <= timedelta(hours=24)


def test_an_urgent_situation_whose_ad_hoc_meeting_is_full_goes_to_the_next_regular_one() -> None:
    situation = brief("urgent", MONDAY.replace(hour=3))
    own = adhoc_meeting(TABLE, situation)
    after = overflow(TABLE, situation, own)
    assert after.kind is MeetingKind.REGULAR
    assert after.starts_at > own.starts_at


def test_an_urgent_situation_passes_a_full_meeting_by_for_one_with_room_in_its_window() -> None:
    first = brief("urgent", datetime(2025, 6, 4, 7, tzinfo=TORONTO))
    regular = place(TABLE, first, ()).meeting
    assert regular.starts_at == datetime(2025, 6, 4, 10, tzinfo=TORONTO)  # 3 hours later
    shared = place(TABLE, first, (), full={regular.meeting_id}).meeting
    assert shared == adhoc_meeting(TABLE, first)  # 11:00, the first one's own
    later = brief("urgent", datetime(2025, 6, 4, 7, 30, tzinfo=TORONTO))
    assert place(TABLE, later, (regular, shared)).meeting == regular, "the earliest with room"
    joined = place(TABLE, later, (regular, shared), full={regular.meeting_id})
    assert joined.meeting == shared, "not an ad-hoc meeting of its own"
    assert not joined.new
    alone = place(TABLE, later, (regular, shared), full={regular.meeting_id, shared.meeting_id})
    assert alone.meeting == adhoc_meeting(TABLE, later)
    assert alone.new
