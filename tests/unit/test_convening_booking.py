"""Booking placed situations (pure): what the shell writes and emits for a placed batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, time, timedelta

import pytest
from uuid6 import uuid7

from directory import Cadence, TableSettings
from schemas.meetings import AgendaIssued, MeetingScheduled, ParticipantInvited, UrgentSituationAdded
from schemas.situations import SituationOpened, SituationScheduled
from services.convening.agenda import VENUE_MAX, AgendaRow, Issued, agenda_due_at
from services.convening.booking import (
    NOTHING_DUE,
    Booking,
    DueAgendas,
    Unloaded,
    book,
    described_meetings,
    due_meetings,
)
from services.convening.invitations import MeetingInvitations, join
from services.convening.model import InviteReason, MeetingKind, MeetingSlot, Participant
from services.convening.placement import Placed
from services.convening.timers import agenda_timer
from tests.support.samples import NOW, sample

pytestmark = pytest.mark.unit

TABLE = TableSettings(district="district_1", location="District 1 station (synthetic) " + "x" * 260,
                      cadence=Cadence(weekday="tuesday", local_time=time(10, 0)))
TABLES = {"district_1": TABLE}
LENGTH = timedelta(hours=2)
WINDOW = timedelta(seconds=60)
CMB = Participant(agency_id="hrps-cmb-d1", name="CMB", reasons=(InviteReason.DISTRICT_CMB,))
ORIGIN = Participant(agency_id="justice-services", name="Justice",
                     reasons=(InviteReason.ORIGINATING_AGENCY, InviteReason.SECTOR_MATCH),
                     matched_categories=("housing",), matched_sectors=("housing",))
HOUSING = Participant(agency_id="housing-services", name="Housing",
                      reasons=(InviteReason.SECTOR_MATCH,), matched_categories=("housing",),
                      matched_sectors=("housing",))


def meeting(kind: MeetingKind, starts_in: timedelta) -> MeetingSlot:
    return MeetingSlot(meeting_id=uuid7(), district="district_1", kind=kind,
                       starts_at=NOW + starts_in, location=TABLE.location, scheduled_at=NOW)


def opened(priority: str = "routine") -> SituationOpened:
    return sample(SituationOpened, situation_id=uuid7(), district="district_1",
                  priority=priority, opened_at=NOW)


def placed(event: SituationOpened, slot: MeetingSlot, created: bool,
           *who: Participant, invited: tuple[str, ...] = ()) -> Placed:
    return Placed(event.situation_id, slot, created,
                  join(slot.meeting_id, invited, event.situation_id, who, NOW), who)


def booked(events: Sequence[SituationOpened], batch: Sequence[Placed],
           tables: Mapping[str, TableSettings], due: DueAgendas, length: timedelta,
           window: timedelta, now: datetime) -> Booking:
    """What :func:`book` decides given everything it reads."""
    booking = book(events, batch, tables, due, length, window, now)
    assert isinstance(booking, Booking), booking
    return booking


def test_a_situation_on_a_new_regular_meeting_schedules_it_and_invites_its_participants() -> None:
    slot = meeting(MeetingKind.REGULAR, timedelta(days=3))
    event = opened()
    booking = booked([event], [placed(event, slot, True, CMB, ORIGIN)], TABLES, NOTHING_DUE,
                   LENGTH, WINDOW, NOW)

    [events] = booking.events
    assert [type(e) for e in events] == [SituationScheduled, MeetingScheduled,
                                         ParticipantInvited, ParticipantInvited]
    scheduled, created, cmb, origin = events
    assert isinstance(scheduled, SituationScheduled)
    assert (scheduled.meeting_id, scheduled.slot) == (slot.meeting_id, "regular")
    assert isinstance(created, MeetingScheduled)
    assert (created.kind, created.starts_at, created.ends_at, created.scheduled_at) == (
        "regular", slot.starts_at, slot.starts_at + LENGTH, NOW)
    assert created.venue == TABLE.location[:VENUE_MAX]
    assert isinstance(cmb, ParticipantInvited)
    assert isinstance(origin, ParticipantInvited)
    assert (cmb.reason, cmb.matched_sectors) == ("district_cmb", ())
    assert (origin.reason, origin.matched_sectors) == ("originating_agency", ("housing",)), \
        "the main reason, and the sectors that matched"
    assert origin.situation_ids == (event.situation_id,)

    [situation] = booking.situations
    assert (situation.state.status, situation.state.meeting_id) == ("scheduled", slot.meeting_id)
    assert [(m.slot, m.ends_at) for m in booking.meetings] == [(slot, slot.starts_at + LENGTH)]
    assert booking.timers == (agenda_timer(slot.meeting_id, agenda_due_at(slot, TABLE)),)
    assert [(mid, sid) for mid, sid, _ in booking.joined] == [(slot.meeting_id, event.situation_id)]
    assert (booking.revisions, booking.waiting, booking.wake) == ({}, (), {})


def test_only_meetings_whose_agendas_are_due_and_not_started_are_read() -> None:
    regular = meeting(MeetingKind.REGULAR, timedelta(days=3))
    adhoc = meeting(MeetingKind.ADHOC, timedelta(hours=4))
    started = meeting(MeetingKind.ADHOC, timedelta(0))
    a, b, c, d = opened(), opened("urgent"), opened("urgent"), opened("urgent")
    batch = [placed(a, regular, True, CMB), placed(b, adhoc, True, CMB),
             placed(c, adhoc, False, CMB, invited=(CMB.agency_id,)), placed(d, started, True, CMB)]
    assert due_meetings(batch, TABLES, NOW) == [adhoc.meeting_id]
    assert due_meetings(batch, TABLES, NOW + timedelta(days=2)) == [regular.meeting_id]


def test_a_new_ad_hoc_meetings_agendas_go_out_at_once() -> None:
    slot = meeting(MeetingKind.ADHOC, timedelta(hours=4))
    event = opened("urgent")
    mid = slot.meeting_id
    due = DueAgendas({mid: MeetingInvitations(meeting_id=mid)}, {mid: {}}, {}, {})
    booking = booked([event], [placed(event, slot, True, CMB, HOUSING)], TABLES, due, LENGTH,
                   WINDOW, NOW)

    agendas = [e for e in booking.events[0] if isinstance(e, AgendaIssued)]
    assert [(a.agency_id, a.kind, a.revision) for a in agendas] == [
        (CMB.agency_id, "first", 1), (HOUSING.agency_id, "first", 1)]
    assert all([i.situation_id for i in a.items] == [event.situation_id] for a in agendas)
    assert all(a.meeting is not None and a.meeting.ends_at == slot.starts_at + LENGTH
               for a in agendas)
    assert booking.revisions == {(mid, CMB.agency_id): (1, (event.situation_id,)),
                                 (mid, HOUSING.agency_id): (1, (event.situation_id,))}
    assert (booking.waiting, booking.wake) == ((), {})
    assert _notices(booking.events[0]) == [], "the chair's first agenda told them: no notice"


def test_changes_after_an_issue_wait_for_the_window_and_newcomers_get_theirs_at_once() -> None:
    slot = meeting(MeetingKind.ADHOC, timedelta(hours=4))
    mid = slot.meeting_id
    first, event = opened("urgent"), opened("urgent")
    on_it = join(mid, (), first.situation_id, (CMB,), NOW).new
    issued_at = NOW - timedelta(seconds=10)
    had = {CMB.agency_id: Issued(1, issued_at, frozenset({first.situation_id}))}
    rows = {first.situation_id: _row(first)}
    due = DueAgendas({mid: MeetingInvitations(meeting_id=mid, invitations=on_it)}, {mid: had},
                     {mid: slot.starts_at + LENGTH}, rows)
    booking = booked([event], [placed(event, slot, False, CMB, HOUSING, invited=(CMB.agency_id,))],
                   TABLES, due, LENGTH, WINDOW, NOW)

    agendas = [e for e in booking.events[0] if isinstance(e, AgendaIssued)]
    assert [(a.agency_id, a.kind) for a in agendas] == [(HOUSING.agency_id, "first")]
    assert booking.waiting == ((mid, CMB.agency_id),)
    assert booking.wake == {mid: issued_at + WINDOW}
    assert booking.meetings == ()
    assert due.issued[mid] == had, "what was read is not changed"


def test_a_batch_on_one_meeting_books_each_situation_on_what_the_ones_before_left() -> None:
    slot = meeting(MeetingKind.ADHOC, timedelta(hours=4))
    mid = slot.meeting_id
    a, b = opened("urgent"), opened("urgent")
    due = DueAgendas({mid: MeetingInvitations(meeting_id=mid)}, {mid: {}}, {}, {})
    first = placed(a, slot, True, CMB)
    second = placed(b, slot, False, CMB, HOUSING, invited=(CMB.agency_id,))
    booking = booked([a, b], [first, second], TABLES, due, LENGTH, WINDOW, NOW)

    assert [type(e).__name__ for e in booking.events[1]] == [
        "SituationScheduled", "ParticipantInvited", "AgendaIssued", "UrgentSituationAdded"], \
        "the chair's update waits, so the chair is told of the urgent situation at once"
    assert booking.revisions == {(mid, CMB.agency_id): (1, (a.situation_id,)),
                                 (mid, HOUSING.agency_id): (1, (b.situation_id,))}
    assert booking.waiting == ((mid, CMB.agency_id),), "the chair's update waits for the window"
    assert booking.wake == {mid: NOW + WINDOW}


def _waiting_chair(priority: str) -> tuple[MeetingSlot, SituationOpened, DueAgendas]:
    """An ad-hoc meeting whose chair received its agenda 10 s ago, and a situation joining it."""
    slot = meeting(MeetingKind.ADHOC, timedelta(hours=4))
    mid = slot.meeting_id
    first, event = opened("urgent"), opened(priority)
    on_it = join(mid, (), first.situation_id, (CMB,), NOW).new
    had = {CMB.agency_id: Issued(1, NOW - timedelta(seconds=10), frozenset({first.situation_id}))}
    due = DueAgendas({mid: MeetingInvitations(meeting_id=mid, invitations=on_it)}, {mid: had},
                     {mid: slot.starts_at + LENGTH}, {first.situation_id: _row(first)})
    return slot, event, due


def _notices(booking_events: tuple[object, ...]) -> list[UrgentSituationAdded]:
    return [e for e in booking_events if isinstance(e, UrgentSituationAdded)]


def test_an_urgent_situation_whose_chair_update_waits_is_told_to_the_chair_at_once() -> None:
    slot, event, due = _waiting_chair("urgent")
    booking = booked([event], [placed(event, slot, False, CMB, HOUSING, invited=(CMB.agency_id,))],
                   TABLES, due, LENGTH, WINDOW, NOW)

    [notice] = _notices(booking.events[0])
    assert (notice.meeting_id, notice.agency_id, notice.situation_id) == (
        slot.meeting_id, CMB.agency_id, event.situation_id)
    assert notice.summary == event.summary, "the same de-identified block as the agendas"
    assert (notice.meeting.kind, notice.meeting.starts_at, notice.meeting.ends_at) == (
        "ad_hoc", slot.starts_at, slot.starts_at + LENGTH)
    assert notice.agendas_by == NOW - timedelta(seconds=10) + WINDOW, \
        "when the waiting update goes out"
    assert notice.added_at == NOW
    assert booking.waiting == ((slot.meeting_id, CMB.agency_id),), "the agenda rule is unchanged"


def test_a_routine_situation_whose_update_waits_tells_nobody_at_once() -> None:
    slot, event, due = _waiting_chair("routine")
    booking = booked([event], [placed(event, slot, False, CMB, invited=(CMB.agency_id,))],
                   TABLES, due, LENGTH, WINDOW, NOW)

    assert _notices(booking.events[0]) == []
    assert booking.waiting == ((slot.meeting_id, CMB.agency_id),)


def test_an_urgent_situation_on_a_meeting_whose_agendas_are_not_due_is_told_to_the_chair() -> None:
    regular = meeting(MeetingKind.REGULAR, timedelta(hours=20))
    late = TableSettings(district="district_1", location="District 1 station (synthetic)",
                         cadence=TABLE.cadence, agenda_lead_time_hours=12)
    event = opened("urgent")
    batch = [placed(event, regular, False, CMB, ORIGIN, invited=(CMB.agency_id,))]
    tables = {"district_1": late}
    assert due_meetings(batch, tables, NOW) == []
    assert described_meetings([event], batch, []) == [regular.meeting_id], \
        "the shell reads the meeting's end for the notice"
    ends = regular.starts_at + timedelta(hours=3)
    booking = booked([event], batch, tables, DueAgendas({}, {}, {regular.meeting_id: ends}, {}),
                   LENGTH, WINDOW, NOW)

    [notice] = _notices(booking.events[0])
    assert notice.agency_id == CMB.agency_id
    assert (notice.meeting.kind, notice.meeting.ends_at) == ("regular", ends)
    assert notice.agendas_by == regular.starts_at - timedelta(hours=12), "the agendas' due time"
    assert not [e for e in booking.events[0] if isinstance(e, AgendaIssued)]


def test_no_notice_without_a_chair_and_none_for_meetings_only_routine_situations_join() -> None:
    slot, event, due = _waiting_chair("urgent")
    booking = booked([event], [placed(event, slot, False, HOUSING)], TABLES, due, LENGTH, WINDOW,
                   NOW)
    assert _notices(booking.events[0]) == [], "nobody chairs: the agendas carry it"
    routine = opened()
    regular = meeting(MeetingKind.REGULAR, timedelta(days=3))
    assert described_meetings([routine], [placed(routine, regular, False, CMB)], []) == []


def _unread(due: DueAgendas) -> DueAgendas:
    """``due`` as the shell reads it first: who is invited and what they last received, without
    the meetings' invitations and agenda rows."""
    return DueAgendas({}, due.issued, due.ends, {},
                      {mid: m.agencies() for mid, m in due.invitations.items()})


def test_a_due_meeting_that_issues_nothing_now_is_booked_the_same_without_its_invitations() -> None:
    slot, event, due = _waiting_chair("urgent")
    batch = [placed(event, slot, False, CMB, invited=(CMB.agency_id,))]
    read = booked([event], batch, TABLES, due, LENGTH, WINDOW, NOW)

    assert booked([event], batch, TABLES, _unread(due), LENGTH, WINDOW, NOW) == read
    assert read.waiting == ((slot.meeting_id, CMB.agency_id),)
    assert len(_notices(read.events[0])) == 1, "the chair's notice needs no invitations either"


def test_booking_asks_for_the_invitations_of_a_due_meeting_it_issues_agendas_of() -> None:
    slot, event, due = _waiting_chair("urgent")
    mid = slot.meeting_id
    newcomer = [placed(event, slot, False, CMB, HOUSING, invited=(CMB.agency_id,))]
    assert book([event], newcomer, TABLES, _unread(due), LENGTH, WINDOW, NOW) == Unloaded((mid,)), \
        "a newcomer's first agenda goes out at once"
    chair = [placed(event, slot, False, CMB, invited=(CMB.agency_id,))]
    later = NOW + WINDOW
    assert book([event], chair, TABLES, _unread(due), LENGTH, WINDOW, later) == Unloaded((mid,)), \
        "the chair's window has passed"
    never = replace(_unread(due), invited={mid: (CMB.agency_id, HOUSING.agency_id)})
    assert book([event], chair, TABLES, never, LENGTH, WINDOW, NOW) == Unloaded((mid,)), \
        "an invited participant never issued an agenda gets its first"

    [agenda] = [e for e in booked([event], chair, TABLES, due, LENGTH, WINDOW, later).events[0]
                if isinstance(e, AgendaIssued)]
    assert (agenda.agency_id, agenda.revision) == (CMB.agency_id, 2), "read, it is issued"


def _row(event: SituationOpened) -> AgendaRow:
    return AgendaRow(event.situation_id, event.priority, event.opened_at,
                      event.summary.model_dump_json())

