"""Participants, invitations per meeting and participant, and agendas."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from uuid6 import uuid7

from directory import Directory, category_sectors, load_directory
from schemas.errors import ConfigurationError
from schemas.reference import reference
from services.convening.agenda import (
    AgendaEntry,
    AgendaPlan,
    Issued,
    agenda_due_at,
    agenda_for,
    agendas_to_issue,
    order_agenda,
)
from services.convening.invitations import MeetingInvitations, invite
from services.convening.model import InviteReason, MeetingKind, MeetingSlot, SituationBrief
from services.convening.participants import participants_of, select_participants

pytestmark = pytest.mark.unit

HALTON = Path(__file__).resolve().parents[2] / "deploy" / "directory" / "halton.yaml"
ON = date(2025, 6, 1)
NOW = datetime(2025, 6, 2, 14, tzinfo=UTC)


@pytest.fixture(scope="module")
def halton() -> Directory:
    return load_directory(HALTON)


def brief(
    district: str = "district_1",
    originator: str = "public-health",
    categories: tuple[str, ...] = ("housing", "mental_health"),
    priority: str = "routine",
    arrived_at: datetime = NOW,
) -> SituationBrief:
    return SituationBrief(
        situation_id=uuid7(),
        district=district,
        originating_agency=originator,
        priority=priority,
        arrived_at=arrived_at,
        risk_categories=categories,
    )


# -- participants --------------------------------------------------------------------------


def test_cmb_then_originator_then_matches_by_name(halton: Directory) -> None:
    chosen = select_participants(halton, brief(), ON)
    assert [p.agency_id for p in chosen] == [
        "hrps-cmb-d1",
        "public-health",
        "youth-mental-health",
        "housing-services",
        "mental-health-assoc",
        "halton-ems",
        "regional-hospital",
        "town-milton",
    ]
    assert chosen[0].reasons == (InviteReason.DISTRICT_CMB,)
    assert chosen[1].reasons == (InviteReason.ORIGINATING_AGENCY,)
    assert all(p.reasons == (InviteReason.SECTOR_MATCH,) for p in chosen[2:])
    assert chosen[3].matched_categories == ("housing",)


def test_an_originator_that_also_matches_appears_once_with_both_reasons(
    halton: Directory,
) -> None:
    chosen = select_participants(halton, brief(originator="housing-services"), ON)
    housing = [p for p in chosen if p.agency_id == "housing-services"]
    assert len(housing) == 1
    assert housing[0].reasons == (InviteReason.ORIGINATING_AGENCY, InviteReason.SECTOR_MATCH)
    assert housing[0].reason is InviteReason.ORIGINATING_AGENCY
    assert chosen[1] == housing[0]
    assert "brought this situation" in housing[0].why
    assert "acts on housing" in housing[0].why


def test_only_agencies_serving_the_district(halton: Directory) -> None:
    chosen = select_participants(halton, brief(district="district_2"), ON)
    ids = [p.agency_id for p in chosen]
    assert ids[0] == "hrps-cmb-d2"
    assert "town-milton" not in ids
    assert "town-oakville-legacy" not in ids  # inactive


def test_only_agencies_active_on_the_date(halton: Directory) -> None:
    situation = brief(categories=("cognitive_functioning",))
    before = {p.agency_id for p in select_participants(halton, situation, date(2015, 6, 1))}
    after = {p.agency_id for p in select_participants(halton, situation, date(2016, 6, 1))}
    assert after - before == {"community-living"}


def test_no_matching_agency_leaves_cmb_and_originator(halton: Directory) -> None:
    chosen = select_participants(halton, brief(categories=("elder_abuse",), district="district_3"), ON)
    assert [p.agency_id for p in chosen] == ["hrps-cmb-d3", "public-health", "halton-ems"]


def test_an_unknown_originator_is_still_invited_by_its_id(halton: Directory) -> None:
    chosen = select_participants(halton, brief(originator="unknown-agency"), ON)
    assert chosen[1].agency_id == chosen[1].name == "unknown-agency"


def test_no_cmb_on_the_date_is_a_configuration_error(halton: Directory) -> None:
    with pytest.raises(ConfigurationError, match="no active police CMB"):
        select_participants(halton, brief(), date(2013, 1, 1))


def test_matched_sectors_come_from_the_taxonomy(halton: Directory) -> None:
    taxonomy = category_sectors(reference())
    chosen = select_participants(halton, brief(), ON, taxonomy)
    by_id = {p.agency_id: p for p in chosen}
    assert by_id["housing-services"].matched_sectors == ("housing", "income_social_services")
    assert by_id["regional-hospital"].matched_sectors == ("health", "mental_health")
    assert by_id["hrps-cmb-d1"].matched_sectors == ()


def test_a_batch_asks_once_per_shape_and_gets_what_each_situation_would(halton: Directory) -> None:
    taxonomy = category_sectors(reference())
    shapes = [brief(d, o, c) for d in ("district_1", "district_2", "district_3")
              for o in ("public-health", "housing-services")
              for c in (("housing",), ("mental_health",), ("housing", "mental_health"))]
    days = [ON, ON + timedelta(days=7)]
    of = participants_of(halton, taxonomy)
    for b in [*shapes, *reversed(shapes), *shapes]:
        for day in days:
            assert of(b, day) == select_participants(halton, b, day, taxonomy)
    assert len({of(b, day) for b in shapes for day in days}) > 6, "the shapes do differ"


def test_selection_is_deterministic_whatever_the_file_order(halton: Directory) -> None:
    shuffled = halton.model_copy(update={"organizations": tuple(reversed(halton.organizations))})
    assert select_participants(shuffled, brief(), ON) == select_participants(halton, brief(), ON)


# -- invitations ---------------------------------------------------------------------------


def test_invitations_are_per_meeting_and_participant(halton: Directory) -> None:
    meeting = MeetingInvitations(meeting_id=uuid7())
    first, second = brief(), brief(originator="school-board", categories=("missing_school",))
    one = invite(meeting, first.situation_id, select_participants(halton, first, ON), NOW)
    assert [i.agency_id for i in one.new] == list(one.changed)
    assert len(one.new) == 8
    assert len({i.invitation_id for i in one.new}) == 8

    two = invite(one.invitations, second.situation_id, select_participants(halton, second, ON), NOW)
    assert [i.agency_id for i in two.new] == ["school-board", "childrens-aid"]
    assert two.changed == ("hrps-cmb-d1", "school-board", "childrens-aid")
    cmb = two.invitations.get("hrps-cmb-d1")
    assert cmb is not None
    assert cmb.situation_ids() == (first.situation_id, second.situation_id)
    assert cmb.invitation_id == one.invitations.invitations[0].invitation_id
    housing = two.invitations.get("housing-services")
    assert housing is not None
    assert housing.situation_ids() == (first.situation_id,)


def test_offering_the_same_situation_again_changes_nothing(halton: Directory) -> None:
    situation = brief()
    participants = select_participants(halton, situation, ON)
    once = invite(MeetingInvitations(meeting_id=uuid7()), situation.situation_id, participants, NOW)
    twice = invite(once.invitations, situation.situation_id, participants, NOW)
    assert twice.new == ()
    assert twice.changed == ()
    assert twice.invitations == once.invitations


# -- agendas -------------------------------------------------------------------------------


def entry(priority: str, minutes: int, sid: UUID | None = None) -> AgendaEntry:
    return AgendaEntry(
        situation_id=sid or uuid7(), priority=priority, arrived_at=NOW + timedelta(minutes=minutes)
    )


def test_agenda_is_ordered_by_priority_then_arrival() -> None:
    a, b, c, d = entry("routine", 1), entry("urgent", 5), entry("routine", 0), entry("urgent", 2)
    assert order_agenda([a, b, c, d]) == (d, b, c, a)


def test_a_participant_sees_only_its_situations(halton: Directory) -> None:
    first, second = (
        brief(),
        brief(
            originator="school-board",
            categories=("missing_school",),
            priority="urgent",
            arrived_at=NOW + timedelta(hours=1),
        ),
    )
    meeting = MeetingInvitations(meeting_id=uuid7())
    change = invite(meeting, first.situation_id, select_participants(halton, first, ON), NOW)
    change = invite(change.invitations, second.situation_id, select_participants(halton, second, ON), NOW)
    entries = {
        s.situation_id: AgendaEntry(situation_id=s.situation_id, priority=s.priority, arrived_at=s.arrived_at)
        for s in (first, second)
    }
    cmb = agenda_for(change.invitations, "hrps-cmb-d1", entries)
    assert [e.situation_id for e in cmb] == [second.situation_id, first.situation_id]
    housing = agenda_for(change.invitations, "housing-services", entries)
    assert [e.situation_id for e in housing] == [first.situation_id]
    assert agenda_for(change.invitations, "nobody", entries) == ()


def slot(kind: MeetingKind, starts: datetime, scheduled: datetime) -> MeetingSlot:
    return MeetingSlot(
        meeting_id=uuid7(),
        district="district_1",
        kind=kind,
        starts_at=starts,
        location="Station (synthetic)",
        scheduled_at=scheduled,
    )


def test_agenda_due_times(halton: Directory) -> None:
    table = halton.table("district_1")
    assert table is not None
    start = NOW + timedelta(days=3)
    assert agenda_due_at(slot(MeetingKind.REGULAR, start, NOW), table) == start - timedelta(hours=24)
    late = start - timedelta(hours=5)
    assert agenda_due_at(slot(MeetingKind.REGULAR, start, late), table) == late
    assert agenda_due_at(slot(MeetingKind.ADHOC, NOW + timedelta(hours=4), NOW), table) == NOW


def test_one_agenda_at_lead_time_then_updates_to_those_whose_agenda_grew(
    halton: Directory,
) -> None:
    table = halton.table("district_1")
    assert table is not None
    start = NOW + timedelta(days=3)
    meeting = slot(MeetingKind.REGULAR, start, NOW)
    first, second = brief(), brief(originator="school-board", categories=("missing_school",))
    change = invite(
        MeetingInvitations(meeting_id=meeting.meeting_id),
        first.situation_id,
        select_participants(halton, first, ON),
        NOW,
    )
    invitations = change.invitations
    assert agendas_to_issue(meeting, table, invitations.agencies(), {}, change.changed, NOW) == AgendaPlan()
    due = start - timedelta(hours=24)
    issued = agendas_to_issue(meeting, table, invitations.agencies(), {}, (), due).issues
    assert [(i.agency_id, i.revision, i.is_update) for i in issued][:2] == [
        ("hrps-cmb-d1", 1, False),
        ("public-health", 1, False),
    ]
    assert len(issued) == 8
    revisions = {i.agency_id: Issued(i.revision, due) for i in issued}
    later = invite(invitations, second.situation_id, select_participants(halton, second, ON), due)
    updates = agendas_to_issue(
        meeting, table, later.invitations.agencies(), revisions, later.changed,
        due + timedelta(hours=1)
    ).issues
    assert [(i.agency_id, i.revision) for i in updates] == [
        ("hrps-cmb-d1", 2),
        ("school-board", 1),
        ("childrens-aid", 1),
    ]
    assert agendas_to_issue(meeting, table, later.invitations.agencies(), {}, (), start) == AgendaPlan()


def test_ad_hoc_agendas_go_out_at_once(halton: Directory) -> None:
    table = halton.table("district_1")
    assert table is not None
    meeting = slot(MeetingKind.ADHOC, NOW + timedelta(hours=4), NOW)
    situation = brief(priority="urgent")
    change = invite(
        MeetingInvitations(meeting_id=meeting.meeting_id),
        situation.situation_id,
        select_participants(halton, situation, ON),
        NOW,
    )
    issued = agendas_to_issue(meeting, table, change.invitations.agencies(), {}, change.changed, NOW).issues
    assert len(issued) == len(change.new)


# -- coalesced updates (docs/agendas.md) -------------------------------------------------------

WINDOW = timedelta(seconds=60)


def _ad_hoc_with_one(halton: Directory) -> tuple[MeetingSlot, MeetingInvitations, dict[str, Issued]]:
    """An ad-hoc meeting whose first agendas went out at NOW."""
    meeting = slot(MeetingKind.ADHOC, NOW + timedelta(hours=4), NOW)
    first = brief(priority="urgent")
    change = invite(MeetingInvitations(meeting_id=meeting.meeting_id), first.situation_id,
                    select_participants(halton, first, ON), NOW)
    table = halton.table("district_1")
    assert table is not None
    plan = agendas_to_issue(meeting, table, change.invitations.agencies(), {}, change.changed, NOW, WINDOW)
    assert all(i.revision == 1 for i in plan.issues)
    assert plan.deferred == ()
    return meeting, change.invitations, {i.agency_id: Issued(1, NOW) for i in plan.issues}


def test_a_change_within_the_window_waits_and_one_update_carries_all_of_its_changes(
        halton: Directory) -> None:
    table = halton.table("district_1")
    assert table is not None
    meeting, invitations, issued = _ad_hoc_with_one(halton)
    chair = "hrps-cmb-d1"
    # Ten more urgent situations join over the next 50 s: nothing goes out to the chair yet.
    for second in range(5, 55, 5):
        now = NOW + timedelta(seconds=second)
        joining = brief(priority="urgent", arrived_at=now)
        change = invite(invitations, joining.situation_id, select_participants(halton, joining, ON), now)
        invitations = change.invitations
        plan = agendas_to_issue(meeting, table, invitations.agencies(), issued, change.changed, now, WINDOW)
        assert chair in plan.deferred
        assert chair not in {i.agency_id for i in plan.issues}
        assert plan.wake_at == NOW + WINDOW
        for agency in plan.deferred:
            issued[agency] = Issued(issued[agency].revision, issued[agency].issued_at, pending=True)
        for issue in plan.issues:  # participants invited for the first time: at once
            assert issue.revision == 1
            issued[issue.agency_id] = Issued(1, now)
    # At the window's end the timer looks again: one update, revision 2, for every waiting one.
    plan = agendas_to_issue(meeting, table, invitations.agencies(), issued, (), NOW + WINDOW, WINDOW)
    assert plan.deferred == ()
    assert plan.wake_at is None
    updated = {i.agency_id: i.revision for i in plan.issues}
    assert updated[chair] == 2
    assert set(updated) == {a for a, last in issued.items() if last.pending}


def test_an_update_that_would_wait_past_the_start_goes_at_once(halton: Directory) -> None:
    table = halton.table("district_1")
    assert table is not None
    meeting, invitations, issued = _ad_hoc_with_one(halton)
    near = meeting.starts_at - timedelta(seconds=30)
    issued = {a: Issued(last.revision, near - timedelta(seconds=10)) for a, last in issued.items()}
    joining = brief(priority="urgent", arrived_at=near)
    change = invite(invitations, joining.situation_id, select_participants(halton, joining, ON), near)
    plan = agendas_to_issue(meeting, table, change.invitations.agencies(), issued, change.changed,
                            near, WINDOW)
    assert plan.deferred == ()
    assert ("hrps-cmb-d1", 2) in {(i.agency_id, i.revision) for i in plan.issues}


def test_no_window_issues_every_change_at_once(halton: Directory) -> None:
    table = halton.table("district_1")
    assert table is not None
    meeting, invitations, issued = _ad_hoc_with_one(halton)
    now = NOW + timedelta(seconds=1)
    joining = brief(priority="urgent", arrived_at=now)
    change = invite(invitations, joining.situation_id, select_participants(halton, joining, ON), now)
    plan = agendas_to_issue(meeting, table, change.invitations.agencies(), issued, change.changed, now)
    assert plan.deferred == ()
    assert ("hrps-cmb-d1", 2) in {(i.agency_id, i.revision)
                                                         for i in plan.issues}


def test_a_waiting_change_is_issued_by_the_first_look_after_its_window(halton: Directory) -> None:
    """A change noted earlier (``pending``) goes out with the next look past the window, even
    when nothing changed at that moment."""
    table = halton.table("district_1")
    assert table is not None
    meeting, invitations, issued = _ad_hoc_with_one(halton)
    issued["hrps-cmb-d1"] = Issued(1, NOW, pending=True)
    early = agendas_to_issue(meeting, table, invitations.agencies(), issued, (), NOW + WINDOW / 2, WINDOW)
    assert early.issues == ()
    assert early.deferred == ("hrps-cmb-d1",)
    assert early.wake_at == NOW + WINDOW
    late = agendas_to_issue(meeting, table, invitations.agencies(), issued, (), NOW + 2 * WINDOW, WINDOW)
    assert [(i.agency_id, i.revision) for i in late.issues] == [("hrps-cmb-d1", 2)]
