"""Placing a batch (``place_all``) decides what placing its situations one at a time does, and
keeps the rules: capacity, overflow, cut-off, urgent within 24 hours."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from itertools import islice
from uuid import UUID

import pytest
from uuid6 import uuid7

from directory import Cadence, TableSettings
from services.convening.model import (
    InviteReason,
    MeetingKind,
    MeetingSlot,
    Participant,
    SituationBrief,
)
from services.convening.placement import (
    MAX_OVERFLOW,
    WIDEN,
    Booked,
    Calendar,
    Missing,
    NoRoom,
    Placed,
    place_all,
    reach_of,
    reaching,
    widened,
    windows_for,
)
from services.convening.scheduling import (
    URGENT_WINDOW,
    next_regular_meeting,
    overflow,
    place,
    regular_meeting,
    regular_starts,
)
from tests.support.placement import stepwise

pytestmark = pytest.mark.unit

TABLES = {d: TableSettings(district=d, location=f"{d} station (synthetic)",
                           cadence=Cadence(weekday=w, local_time=time(10, 0)))
          for d, w in (("district_1", "tuesday"), ("district_2", "wednesday"))}
NOW = datetime(2025, 6, 2, 13, tzinfo=UTC)
WIDE = {d: (NOW, NOW + timedelta(days=3650)) for d in TABLES}
CAPACITY = 3


def participants(brief: SituationBrief, slot: MeetingSlot) -> Sequence[Participant]:
    cmb = Participant(agency_id=f"cmb-{brief.district[-1]}", name="CMB",
                      reasons=(InviteReason.DISTRICT_CMB,))
    origin = Participant(agency_id=brief.originating_agency, name="Origin",
                         reasons=(InviteReason.ORIGINATING_AGENCY,))
    return (cmb, origin)


def briefs(n: int, seed: int) -> list[SituationBrief]:
    rng = random.Random(seed)
    return [SituationBrief(
        situation_id=uuid7(), district=rng.choice(sorted(TABLES)),
        originating_agency=rng.choice(("housing-services", "justice-services", "police")),
        priority="urgent" if rng.random() < 0.3 else "routine",
        arrived_at=NOW + timedelta(minutes=rng.randint(0, 3 * 24 * 60)),
        risk_categories=("housing",)) for _ in range(n)]


def one_at_a_time(calendar: Calendar, batch: Sequence[SituationBrief]
                  ) -> tuple[list[Placed], Calendar]:
    """The single decisions folded: each situation placed alone on what the previous left."""
    out: list[Placed] = []
    for b in batch:
        result = place_all(calendar, TABLES, [b], CAPACITY, participants, NOW)
        assert not isinstance(result, Missing | NoRoom)
        (placed,), calendar = result
        out.append(placed)
    return out, calendar


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_decides_what_folding_the_single_decisions_decides(seed: int) -> None:
    batch = briefs(80, seed)
    start = Calendar(WIDE, {})
    result = place_all(start, TABLES, batch, CAPACITY, participants, NOW)
    assert not isinstance(result, Missing | NoRoom)
    assert result == one_at_a_time(start, batch)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("n", "days", "ends"), [(300, 3650, tuple), (1200, 3650, NoRoom),
                                                 (300, 200, Missing)])
def test_long_walks_past_full_meetings_decide_what_walking_each_step_decides(
        seed: int, n: int, days: int, ends: type) -> None:
    """~n/2 situations per table (7 in 10 routine), 3 a meeting: walks past dozens of full
    meetings, which :func:`place_all` jumps; with 1,200 one walks past ``MAX_OVERFLOW`` (no room),
    with 200 days read one walks off the calendar read (missing)."""
    batch = briefs(n, seed)
    start = Calendar({d: (NOW, NOW + timedelta(days=days)) for d in TABLES}, {})
    expected = stepwise(start, TABLES, batch, CAPACITY, participants, NOW)
    assert isinstance(expected, ends)
    assert place_all(start, TABLES, batch, CAPACITY, participants, NOW) == expected


def per_record_rule(stored: dict[UUID, Booked], brief: SituationBrief) -> tuple[MeetingSlot, bool]:
    """The rule as the per-record handler applied it on the database (insert-or-get of the
    candidate, overflow while it is full), on a dict standing for the meetings table."""
    table = TABLES[brief.district]
    end = brief.arrived_at + timedelta(hours=24)
    existing = [] if brief.priority == "routine" else sorted(
        (b.slot for b in stored.values()
         if b.slot.district == table.district and brief.arrived_at <= b.slot.starts_at <= end),
        key=lambda m: m.starts_at)
    full = {m.meeting_id for m in existing if stored[m.meeting_id].situations >= CAPACITY}
    candidate = place(table, brief, existing, full).meeting
    for _ in range(MAX_OVERFLOW):
        got = stored.get(candidate.meeting_id)
        created = got is None
        got = got or Booked(candidate, 0, ())
        stored[candidate.meeting_id] = got
        if got.situations < CAPACITY:
            break
        candidate = overflow(table, brief, got.slot)
    else:
        raise AssertionError("no room")
    new = [p.agency_id for p in participants(brief, got.slot) if p.agency_id not in got.invited]
    stored[got.slot.meeting_id] = Booked(got.slot, got.situations + 1, (*got.invited, *new))
    return got.slot, created


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_places_as_the_per_record_rule_did(seed: int) -> None:
    batch = briefs(80, seed)
    result = place_all(Calendar(WIDE, {}), TABLES, batch, CAPACITY, participants, NOW)
    assert not isinstance(result, Missing | NoRoom)
    stored: dict[UUID, Booked] = {}
    assert [(p.meeting, p.created) for p in result[0]] == [per_record_rule(stored, b) for b in batch]
    assert result[1].meetings == stored


def test_a_batch_keeps_capacity_cut_off_and_the_urgent_window() -> None:
    batch = briefs(120, 7)
    result = place_all(Calendar(WIDE, {}), TABLES, batch, CAPACITY, participants, NOW)
    assert not isinstance(result, Missing | NoRoom)
    placed, calendar = result
    counts = Counter(p.meeting.meeting_id for p in placed)
    assert max(counts.values()) == CAPACITY, "meetings fill up to their capacity, never beyond"
    assert all(calendar.meetings[m].situations == n for m, n in counts.items())
    assert sum(p.created for p in placed) == len(counts), "each meeting is created once"
    for b, p in zip(batch, placed, strict=True):
        table = TABLES[b.district]
        assert p.meeting.district == b.district
        if b.priority == "urgent" and p.meeting.kind is MeetingKind.ADHOC:
            assert p.meeting.starts_at - b.arrived_at <= timedelta(hours=24)
        if b.priority == "routine":
            assert p.meeting.kind is MeetingKind.REGULAR
            assert p.meeting.starts_at - b.arrived_at >= timedelta(hours=table.cutoff_hours)
    invited = {m: b.invited for m, b in calendar.meetings.items()}
    assert all(len(set(v)) == len(v) for v in invited.values()), "one invitation per agency"


def test_a_burst_of_urgent_situations_shares_ad_hoc_meetings_while_the_day_s_is_full() -> None:
    """Tuesday's 10:00 meeting of district_1 is full; 10 urgent situations arrive a minute apart
    from 06:00 (it is in reach of each): they fill one ad-hoc meeting after another, 3 each."""
    table = TABLES["district_1"]
    arrival = datetime(2025, 6, 3, 10, tzinfo=UTC)  # 06:00 in Toronto
    start = next(regular_starts(table.cadence, arrival))
    day = regular_meeting(table, start, NOW)
    assert timedelta(hours=table.urgent_notice_hours) <= start - arrival <= URGENT_WINDOW
    burst = [SituationBrief(situation_id=uuid7(), district="district_1",
                            originating_agency="police", priority="urgent",
                            arrived_at=arrival + timedelta(minutes=i), risk_categories=("housing",))
             for i in range(10)]
    calendar = Calendar(WIDE, {day.meeting_id: Booked(day, CAPACITY, ())})
    result = place_all(calendar, TABLES, burst, CAPACITY, participants, NOW)
    assert not isinstance(result, Missing | NoRoom)
    placed = result[0]
    assert all(p.meeting.kind is MeetingKind.ADHOC for p in placed)
    counts = Counter(p.meeting.meeting_id for p in placed)
    assert sorted(counts.values()) == [1, 3, 3, 3], "one ad-hoc meeting per 3, not one each"
    assert [p.created for p in placed] == [i % CAPACITY == 0 for i in range(10)]
    assert stepwise(calendar, TABLES, burst, CAPACITY, participants, NOW) == result


def test_a_meeting_outside_the_calendar_read_is_asked_for_not_assumed_absent() -> None:
    b = briefs(1, 4)[0].model_copy(update={"priority": "routine"})
    narrow = Calendar({b.district: (NOW, NOW + timedelta(hours=1))}, {})
    result = place_all(narrow, TABLES, [b], CAPACITY, participants, NOW)
    assert isinstance(result, Missing)
    assert result.district == b.district
    assert result.at > NOW + timedelta(hours=1)


def test_when_every_meeting_in_reach_is_full_the_situation_has_no_room() -> None:
    b = briefs(1, 5)[0].model_copy(update={"priority": "routine"})
    table = TABLES[b.district]
    first = next_regular_meeting(table, b.arrived_at)
    full = {}
    for start in islice(regular_starts(table.cadence, first - timedelta(seconds=1)), MAX_OVERFLOW):
        slot = regular_meeting(table, start, NOW)
        full[slot.meeting_id] = Booked(slot, CAPACITY, ())
    assert place_all(Calendar(WIDE, full), TABLES, [b], CAPACITY, participants, NOW) == NoRoom(
        b.situation_id)
    one_less = Calendar(WIDE, {**full, slot.meeting_id: Booked(slot, CAPACITY - 1, ())})
    result = place_all(one_less, TABLES, [b], CAPACITY, participants, NOW)
    assert not isinstance(result, Missing | NoRoom)
    assert result[0][0].meeting == slot, "the last meeting in reach with room takes it"


def test_the_first_read_covers_each_briefs_urgent_window_and_next_regular_meeting() -> None:
    batch = briefs(40, seed=11)
    windows = windows_for(TABLES, batch)
    assert set(windows) == {b.district for b in batch}
    for b in batch:
        lo, hi = windows[b.district]
        assert lo <= b.arrived_at
        assert hi >= b.arrived_at + URGENT_WINDOW
        assert hi >= next_regular_meeting(TABLES[b.district], b.arrived_at)


def test_a_missing_meeting_widens_the_read_past_it_by_at_least_four_weeks() -> None:
    windows = {"district_1": (NOW, NOW + timedelta(days=7)), "district_2": (NOW, NOW)}
    later = NOW + timedelta(days=10)
    grown = widened(windows, Missing("district_1", later))
    assert grown["district_1"] == (NOW, later + WIDEN)
    assert grown["district_2"] == windows["district_2"]
    assert windows["district_1"] == (NOW, NOW + timedelta(days=7)), "a new mapping"
    long = {"district_1": (NOW, NOW + timedelta(days=60))}
    assert widened(long, Missing("district_1", NOW - timedelta(days=1)))["district_1"] == (
        NOW - timedelta(days=1), NOW + timedelta(days=120))


def test_the_read_goes_on_to_where_the_last_placements_went_never_less() -> None:
    windows = {"district_1": (NOW, NOW + timedelta(days=7)), "district_2": (NOW, NOW),
               "district_3": (NOW, NOW + timedelta(days=30))}
    reach = {"district_1": NOW + timedelta(days=40), "district_3": NOW + timedelta(days=3),
             "district_9": NOW + timedelta(days=90)}
    assert reaching(windows, reach) == {
        "district_1": (NOW, NOW + timedelta(days=40)), "district_2": (NOW, NOW),
        "district_3": (NOW, NOW + timedelta(days=30))}


def test_the_reach_is_where_the_routine_situations_went() -> None:
    batch = briefs(60, seed=4)
    result = place_all(Calendar(WIDE, {}), TABLES, batch, CAPACITY, participants, NOW)
    assert not isinstance(result, Missing | NoRoom)
    placed = result[0]
    reach = reach_of(batch, placed)
    for district in TABLES:
        routine = [p.meeting.starts_at for b, p in zip(batch, placed, strict=True)
                   if b.district == district and b.priority == "routine"]
        assert reach[district] == max(routine)
    urgent = [b for b in batch if b.priority == "urgent"]
    alone = place_all(Calendar(WIDE, {}), TABLES, urgent, CAPACITY, participants, NOW)
    assert not isinstance(alone, Missing | NoRoom)
    assert urgent
    assert reach_of(urgent, alone[0]) == {}, "urgent placements never set the reach"


def _read_and_place(stored: Calendar, batch: Sequence[SituationBrief],
                    windows: dict[str, tuple[datetime, datetime]]) -> tuple[list[Placed], int]:
    """What the shell does: read the stored meetings in ``windows``, place, widen on Missing;
    the placements and how many reads it took."""
    reads = 0
    while True:
        reads += 1
        seen = {mid: b for mid, b in stored.meetings.items()
                if b.slot.district in windows
                and windows[b.slot.district][0] <= b.slot.starts_at <= windows[b.slot.district][1]}
        result = place_all(Calendar(windows, seen), TABLES, batch, CAPACITY, participants, NOW)
        if isinstance(result, Missing):
            windows = widened(windows, result)
            continue
        assert not isinstance(result, NoRoom)
        return result[0], reads


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_placed_on_a_calendar_read_further_places_the_same(seed: int) -> None:
    # A busy calendar: the first batch fills weeks of meetings; the next one is placed once
    # from the windows of its briefs, once from those read on to where the first went.
    first_batch = briefs(150, seed)
    first = place_all(Calendar(WIDE, {}), TABLES, first_batch, CAPACITY, participants, NOW)
    assert not isinstance(first, Missing | NoRoom)
    placed, stored = first
    batch = briefs(40, seed + 100)
    plain, plain_reads = _read_and_place(stored, batch, windows_for(TABLES, batch))
    far, far_reads = _read_and_place(
        stored, batch, reaching(windows_for(TABLES, batch), reach_of(first_batch, placed)))
    assert far == plain
    assert far_reads < plain_reads
