"""Scheduling: cadence, cut-off, daylight-saving changes, skip dates, biweekly, urgent placement."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from uuid6 import uuid7

from directory import AnnualClosure, Cadence, TableSettings
from schemas.errors import ConfigurationError
from schemas.reference.calendar import STATUTORY_HOLIDAYS, local_date
from services.convening.model import MeetingKind, MeetingSlot, SituationBrief
from services.convening.scheduling import (
    cadence_dates,
    next_regular_meeting,
    place,
    place_routine,
)

pytestmark = pytest.mark.unit

TORONTO = ZoneInfo("America/Toronto")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TORONTO)


def table(**cadence: Any) -> TableSettings:
    extra = {k: cadence.pop(k) for k in list(cadence) if k in {"cutoff_hours", "agenda_lead_time_hours"}}
    spec = {"weekday": "wednesday", "local_time": time(10, 0), **cadence}
    return TableSettings(
        district="district_2", cadence=Cadence(**spec), location="Station (synthetic)", **extra
    )


def brief(arrival: datetime, priority: str = "routine") -> SituationBrief:
    return SituationBrief(
        situation_id=uuid7(),
        district="district_2",
        originating_agency="housing-services",
        priority=priority,
        arrived_at=arrival,
        risk_categories=("housing",),
    )


# -- regular meetings and the cut-off ------------------------------------------------------


def test_next_weekly_meeting_respects_the_cut_off() -> None:
    t = table()
    assert next_regular_meeting(t, local(2025, 6, 2, 9)) == local(2025, 6, 4, 10)
    # exactly 24 hours before is still in time; a minute later goes to the following week
    assert next_regular_meeting(t, local(2025, 6, 3, 10)) == local(2025, 6, 4, 10)
    assert next_regular_meeting(t, local(2025, 6, 3, 10, 1)) == local(2025, 6, 11, 10)
    # after the meeting on the same day
    assert next_regular_meeting(t, local(2025, 6, 4, 11)) == local(2025, 6, 11, 10)


def test_a_zero_cut_off_takes_any_later_meeting() -> None:
    t = table(cutoff_hours=0)
    assert next_regular_meeting(t, local(2025, 6, 4, 9, 59)) == local(2025, 6, 4, 10)
    assert next_regular_meeting(t, local(2025, 6, 4, 10)) == local(2025, 6, 11, 10)


def test_spring_forward_keeps_local_time_and_counts_real_hours() -> None:
    t = table(weekday="monday", local_time=time(9, 30), cutoff_hours=48)
    before = next_regular_meeting(t, local(2025, 2, 28, 9))
    after = next_regular_meeting(t, local(2025, 3, 6, 9))
    assert before.astimezone(TORONTO).time() == after.astimezone(TORONTO).time() == time(9, 30)
    assert (before.astimezone(UTC).hour, after.astimezone(UTC).hour) == (14, 13)  # EST, EDT
    # Saturday 09:00 EST to Monday 09:30 EDT is 47.5 real hours (48.5 on the wall clock): too late
    assert next_regular_meeting(t, local(2025, 3, 8, 9)) == local(2025, 3, 17, 9, 30)
    assert next_regular_meeting(t, local(2025, 3, 8, 8, 30)) == local(2025, 3, 10, 9, 30)


def test_fall_back_keeps_local_time_and_counts_real_hours() -> None:
    t = table(weekday="monday", local_time=time(9, 30), cutoff_hours=48)
    # Saturday 10:00 EDT to Monday 09:30 EST is 48.5 real hours (47.5 on the wall clock): in time
    assert next_regular_meeting(t, local(2025, 11, 1, 10)) == local(2025, 11, 3, 9, 30)
    assert next_regular_meeting(t, local(2025, 11, 1, 10)).astimezone(UTC).hour == 14
    assert next_regular_meeting(t, local(2025, 11, 1, 11)) == local(2025, 11, 10, 9, 30)


def test_meetings_on_the_change_days_themselves() -> None:
    spring = table(weekday="sunday", local_time=time(2, 30), cutoff_hours=0)
    # 02:30 does not exist on 9 March 2025: zoneinfo puts it at 03:30 EDT (07:30 UTC)
    start = next_regular_meeting(spring, local(2025, 3, 8, 12))
    assert start == datetime(2025, 3, 9, 7, 30, tzinfo=UTC)
    autumn = table(weekday="sunday", local_time=time(1, 30), cutoff_hours=0)
    # 01:30 happens twice on 2 November 2025: the first (EDT, 05:30 UTC)
    start = next_regular_meeting(autumn, local(2025, 11, 1, 12))
    assert start == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)


def test_skip_dates_move_to_the_following_meeting() -> None:
    t = table(skip_dates=(date(2025, 6, 4), date(2025, 6, 11)))
    assert next_regular_meeting(t, local(2025, 6, 2, 9)) == local(2025, 6, 18, 10)


def test_biweekly_meets_every_other_week_from_the_anchor() -> None:
    t = table(weekday="tuesday", local_time=time(9, 30), frequency="biweekly", anchor_date=date(2025, 1, 7))
    assert next_regular_meeting(t, local(2025, 1, 8, 9)) == local(2025, 1, 21, 9, 30)
    assert next_regular_meeting(t, local(2025, 1, 20, 10)) == local(2025, 2, 4, 9, 30)
    # before the anchor, the cadence extends backwards
    assert next_regular_meeting(t, local(2024, 12, 20, 9)) == local(2024, 12, 24, 9, 30)


def test_biweekly_skip_moves_a_whole_cycle() -> None:
    t = table(
        weekday="tuesday",
        local_time=time(9, 30),
        frequency="biweekly",
        anchor_date=date(2025, 1, 7),
        skip_dates=(date(2025, 1, 21),),
    )
    assert next_regular_meeting(t, local(2025, 1, 8, 9)) == local(2025, 2, 4, 9, 30)


def test_a_cadence_that_skips_everything_is_a_configuration_error() -> None:
    skips = tuple(date(2025, 1, 1) + timedelta(days=7 * i) for i in range(600))
    t = table(weekday="wednesday", skip_dates=skips)
    with pytest.raises(ConfigurationError, match="skips every meeting date"):
        next_regular_meeting(t, local(2025, 1, 1, 0))


def test_a_table_does_not_meet_on_a_statutory_holiday() -> None:
    """3 District's Thursday table would have met on Canada Day 2027; Christmas 2025 falls on a
    Thursday too. Both are statutory holidays, whatever the directory's own closures say."""
    thursday = table(weekday="thursday", local_time=time(13, 30))
    assert next_regular_meeting(thursday, local(2027, 6, 28, 9)) == local(2027, 7, 8, 13, 30)
    assert next_regular_meeting(thursday, local(2025, 12, 22, 9)) == local(2026, 1, 8, 13, 30)
    monday = table(weekday="monday", local_time=time(9, 0))  # Boxing Day 2026, observed Mon 28
    assert next_regular_meeting(monday, local(2026, 12, 24, 9)) == local(2027, 1, 4, 9, 0)


def test_an_annual_closure_holds_every_year_across_the_new_year() -> None:
    closures = (AnnualClosure(start="12-22", end="01-01"),)
    thursday = table(weekday="thursday", local_time=time(13, 30), annual_closures=closures)
    # 24 and 31 December 2026 (Thursdays) are in the table's end-of-year closure; 1 January
    # 2027 is a Friday; the next meeting is the first Thursday after it
    assert next_regular_meeting(thursday, local(2026, 12, 20, 9)) == local(2027, 1, 7, 13, 30)
    assert next_regular_meeting(thursday, local(2030, 12, 20, 9)) == local(2031, 1, 2, 13, 30)


def test_local_date_uses_toronto() -> None:
    assert local_date(datetime(2025, 6, 2, 2, tzinfo=UTC)) == date(2025, 6, 1)


@settings(max_examples=60, deadline=None)
@given(
    arrival=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    biweekly=st.booleans(),
    cutoff=st.integers(min_value=0, max_value=72),
    skips=st.lists(st.integers(min_value=0, max_value=200), max_size=6),
)
def test_next_meeting_properties(arrival: datetime, biweekly: bool, cutoff: int, skips: list[int]) -> None:
    anchor = date(2025, 1, 7)
    step = 14 if biweekly else 7
    skip_dates = tuple(anchor + timedelta(days=step * s) for s in skips)
    t = table(
        weekday="tuesday",
        local_time=time(9, 30),
        frequency="biweekly" if biweekly else "weekly",
        anchor_date=anchor,
        skip_dates=skip_dates,
        cutoff_hours=cutoff,
    )
    start = next_regular_meeting(t, arrival)
    day = start.astimezone(TORONTO)
    assert day.time() == time(9, 30)
    assert day.weekday() == 1
    assert (day.date() - anchor).days % step == 0
    assert day.date() not in skip_dates
    assert day.date() not in STATUTORY_HOLIDAYS
    assert start - arrival >= timedelta(hours=cutoff)
    # no earlier eligible meeting was passed over
    earlier = next(cadence_dates(t.cadence, (start - timedelta(days=step)).astimezone(TORONTO).date()))
    if earlier != day.date():
        prior = datetime.combine(earlier, time(9, 30), tzinfo=TORONTO)
        assert prior - arrival < timedelta(hours=cutoff)


# -- placement -----------------------------------------------------------------------------


def test_routine_placement_gives_every_instance_the_same_meeting() -> None:
    t = table()
    first = place_routine(t, brief(local(2025, 6, 2, 9)), [])
    second = place_routine(t, brief(local(2025, 6, 2, 15)), [])
    assert first.new
    assert second.new
    assert first.meeting.meeting_id == second.meeting.meeting_id
    assert first.meeting.meeting_id.version == 7
    assert first.meeting.kind is MeetingKind.REGULAR
    joined = place_routine(t, brief(local(2025, 6, 2, 15)), [first.meeting])
    assert not joined.new
    assert joined.meeting == first.meeting  # the existing one, with its scheduled_at


def test_urgent_far_from_a_meeting_gets_an_ad_hoc_meeting_within_24_hours() -> None:
    t = table()
    situation = brief(local(2025, 6, 2, 12, 10), "urgent")
    placed = place(t, situation, [])
    assert placed.new
    assert placed.meeting.kind is MeetingKind.ADHOC
    assert placed.meeting.starts_at == local(2025, 6, 2, 16, 30)  # 4 h later, to the half hour
    assert placed.meeting.starts_at - situation.arrived_at <= timedelta(hours=24)
    assert placed.meeting.scheduled_at == situation.arrived_at
    again = place(t, situation, [])
    assert again.meeting.meeting_id == placed.meeting.meeting_id


def test_urgent_joins_the_regular_meeting_within_24_hours() -> None:
    t = table()
    placed = place(t, brief(local(2025, 6, 3, 12), "urgent"), [])
    assert placed.meeting.kind is MeetingKind.REGULAR
    assert placed.meeting.starts_at == local(2025, 6, 4, 10)  # 22 h away, inside the cut-off
    routine = place(t, brief(local(2025, 6, 3, 12)), [])
    assert routine.meeting.starts_at == local(2025, 6, 11, 10)


def test_urgent_joins_the_earliest_scheduled_meeting_in_the_window() -> None:
    t = table()
    adhoc = MeetingSlot(
        meeting_id=UUID(int=7 << 76 | 2 << 62),
        district="district_2",
        kind=MeetingKind.ADHOC,
        starts_at=local(2025, 6, 3, 18),
        location="x",
        scheduled_at=local(2025, 6, 3, 9),
    )
    placed = place(t, brief(local(2025, 6, 3, 12), "urgent"), [adhoc])
    assert placed == type(placed)(adhoc, new=False)


def test_urgent_does_not_join_a_meeting_starting_too_soon() -> None:
    t = table()
    soon = MeetingSlot(
        meeting_id=UUID(int=7 << 76 | 2 << 62 | 1),
        district="district_2",
        kind=MeetingKind.ADHOC,
        starts_at=local(2025, 6, 2, 13),
        location="x",
        scheduled_at=local(2025, 6, 2, 9),
    )
    placed = place(t, brief(local(2025, 6, 2, 12), "urgent"), [soon])
    assert placed.new
    assert placed.meeting.kind is MeetingKind.ADHOC
    # and the regular one is within 2 hours: too soon as well
    placed = place(t, brief(local(2025, 6, 4, 8, 30), "urgent"), [])
    assert placed.meeting.kind is MeetingKind.ADHOC


def test_a_situation_of_another_district_is_refused() -> None:
    other = brief(local(2025, 6, 2, 12)).model_copy(update={"district": "district_3"})
    with pytest.raises(ValueError, match="offered to"):
        place(table(), other, [])


@pytest.mark.parametrize(("start", "end"), [("12-22", "01-01"), ("07-01", "08-31"),
                                            ("02-29", "03-01"), ("03-05", "03-05")])
def test_an_annual_closure_covers_the_days_from_its_start_to_its_end_in_any_year(
        start: str, end: str) -> None:
    closure = AnnualClosure(start=start, end=end)
    days = [date(2027, 1, 1) + timedelta(days=n) for n in range(2 * 366)]  # 2028 is a leap year
    covered = {d.strftime("%m-%d") for d in days if closure.covers(d)}
    every = {d.strftime("%m-%d") for d in days}
    if start <= end:
        assert covered == {md for md in every if start <= md <= end}
    else:
        assert covered == {md for md in every if md >= start or md <= end}
    assert (start in every) == (start in covered)
