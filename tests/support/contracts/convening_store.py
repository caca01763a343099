"""What every :class:`~services.convening.ports.ConveningStore` does, observed through the port.

:class:`ConveningStoreContract` is run twice: on the in-memory fake
(``tests/unit/test_convening_store_fake.py``) and on PostgreSQL in a scratch schema
(``tests/integration/test_convening_store_pg.py``). A subclass provides a ``store`` fixture: a
store over an empty schema. Whatever the shell's unit tests rely on of the fake is asserted here,
so it cannot drift from the SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
from uuid6 import uuid7

from schemas.errors import StaleState
from schemas.referrals import SituationSummary
from schemas.situations import SituationOpened, SituationScheduled
from services.convening.agenda import Issued
from services.convening.booking import NewMeeting, NewSituation
from services.convening.invitations import MeetingInvitations, invite, join
from services.convening.model import InviteReason, MeetingKind, MeetingSlot, Participant
from services.convening.placement import Booked
from services.convening.ports import ConveningStore
from services.convening.situation import INITIAL, SituationState, evolve
from services.convening.timers import Timer, agenda_timer
from tests.support.samples import sample, summary

T0 = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)
ROOM = 100
"""A meeting capacity no test here reaches: every calendar read returns the invitations."""
CMB = Participant(agency_id="hrps-cmb-d1", name="CMB District 1", reasons=(InviteReason.DISTRICT_CMB,))
ORIGIN = Participant(agency_id="justice-services", name="Justice Services",
                     reasons=(InviteReason.ORIGINATING_AGENCY,))
HOUSING = Participant(agency_id="housing-services", name="Housing Services",
                      reasons=(InviteReason.SECTOR_MATCH,), matched_categories=("housing",),
                      matched_sectors=("housing",))
BOTH = Participant(agency_id="mental-health-assoc", name="Mental Health Association",
                   reasons=(InviteReason.ORIGINATING_AGENCY, InviteReason.SECTOR_MATCH),
                   matched_categories=("housing", "mental_health"))


def opened_state(*, priority: str = "urgent", at: datetime = T0) -> tuple[SituationState, str]:
    """A just-opened situation's state and its summary's JSON."""
    event = sample(SituationOpened, situation_id=uuid7(), priority=priority, opened_at=at)
    return evolve(INITIAL, event), event.summary.model_dump_json()


def new_situation(*, priority: str = "urgent", at: datetime = T0) -> NewSituation:
    state, summary_json = opened_state(priority=priority, at=at)
    return NewSituation(state, summary_json)


def sid_of(situation: NewSituation) -> UUID:
    """The situation's id (an opened state always has one)."""
    assert situation.state.situation_id is not None
    return situation.state.situation_id


def slot(district: str = "district_1", starts_at: datetime = T0 + timedelta(days=2),
         kind: MeetingKind = MeetingKind.REGULAR) -> MeetingSlot:
    return MeetingSlot(meeting_id=uuid7(), district=district, kind=kind, starts_at=starts_at,
                       location=f"{district} station (synthetic)", scheduled_at=T0)


def new_meeting(district: str = "district_1", starts_at: datetime = T0 + timedelta(days=2)
                ) -> NewMeeting:
    s = slot(district, starts_at)
    return NewMeeting(s, s.starts_at + timedelta(hours=2))


def sla_timer(situation_id: UUID, kind: str, due_at: datetime, key: str | None = None) -> Timer:
    assert kind in ("sla_warning", "sla_breach")
    return Timer(key=key or f"{kind}/{situation_id}/{T0.isoformat()}",
                 kind="sla_warning" if kind == "sla_warning" else "sla_breach",
                 aggregate_id=situation_id, due_at=due_at, started_at=T0,
                 window_due_at=T0 + timedelta(hours=48))


class ConveningStoreContract:
    """The observable outcomes of the port; subclasses give the ``store`` fixture."""

    # -- situations ----------------------------------------------------------------------------

    async def test_an_unknown_situation_is_not_found(self, store: ConveningStore) -> None:
        unknown = uuid7()
        assert await store.lock_situation(unknown) is None
        assert await store.known_situations([unknown]) == set()
        assert await store.agenda_rows([unknown]) == []

    async def test_inserted_situations_are_known_and_read_back_as_stored(
            self, store: ConveningStore) -> None:
        a, b = new_situation(), new_situation(priority="routine", at=T0 + timedelta(minutes=5))
        await store.record_booking(situations=[a, b])
        sids = [sid_of(a), sid_of(b)]
        assert await store.known_situations([*sids, uuid7()]) == set(sids)
        assert await store.lock_situation(sids[0]) == a.state
        assert await store.lock_situation(sids[1], nowait=True) == b.state
        rows = {r.situation_id: r for r in await store.agenda_rows(sids)}
        assert set(rows) == set(sids)
        assert (rows[sids[1]].priority, rows[sids[1]].opened_at) == ("routine", T0 + timedelta(minutes=5))
        assert SituationSummary.model_validate_json(rows[sids[0]].summary_json) == summary()

    async def test_a_situation_is_inserted_once(self, store: ConveningStore) -> None:
        a = new_situation()
        await store.record_booking(situations=[a])
        with pytest.raises(asyncpg.UniqueViolationError):
            await store.record_booking(situations=[new_situation(), a])

    async def test_a_state_is_saved_over_the_version_it_was_decided_from(
            self, store: ConveningStore) -> None:
        a = new_situation()
        sid = sid_of(a)
        await store.record_booking(situations=[a])
        meeting = slot()
        after = evolve(a.state, sample(
            SituationScheduled, situation_id=sid, meeting_id=meeting.meeting_id,
            meeting_starts_at=meeting.starts_at, scheduled_at=T0))
        await store.save_situation(after, a.state.version, T0)
        assert await store.lock_situation(sid) == after
        with pytest.raises(StaleState):  # decided from a version no longer stored
            await store.save_situation(after, a.state.version, T0)
        with pytest.raises(StaleState):
            await store.save_situation(opened_state()[0], 0, T0)
        assert await store.lock_situation(sid) == after

    # -- meetings ------------------------------------------------------------------------------

    async def test_a_meeting_is_read_back_with_its_end(self, store: ConveningStore) -> None:
        m = new_meeting()
        await store.record_booking(meetings=[m])
        unknown = uuid7()
        assert await store.read_meeting(m.slot.meeting_id) == m.slot
        assert await store.read_meeting(unknown) is None
        assert await store.meeting_ends([m.slot.meeting_id, unknown]) == {m.slot.meeting_id: m.ends_at}
        await store.record_booking(meetings=[])

    async def test_a_meeting_is_inserted_once(
            self, store: ConveningStore) -> None:
        m = new_meeting()
        await store.record_booking(meetings=[m])
        with pytest.raises(asyncpg.UniqueViolationError):
            await store.record_booking(meetings=[m])

    async def test_a_meeting_must_end_after_it_starts(self, store: ConveningStore) -> None:
        s = slot()
        with pytest.raises(asyncpg.CheckViolationError):
            await store.record_booking(meetings=[NewMeeting(s, s.starts_at)])

    async def test_the_meetings_of_a_window_are_those_starting_in_it_bounds_included(
            self, store: ConveningStore) -> None:
        start = T0 + timedelta(days=2)
        first, week, other = (new_meeting("district_1", start),
                              new_meeting("district_1", start + timedelta(days=7)),
                              new_meeting("district_2", start))
        await store.record_booking(meetings=[first, week, other])

        def ids(found: list[Booked]) -> set[UUID]:
            return {b.slot.meeting_id for b in found}

        async def read(*windows: tuple[str, datetime, datetime]) -> list[Booked]:
            return await store.meetings_in(windows, ROOM)

        both = await read(("district_1", start, start + timedelta(days=7)))
        assert ids(both) == {first.slot.meeting_id, week.slot.meeting_id}
        assert {(b.situations, b.invited) for b in both} == {(0, ())}
        assert ids(await read(("district_1", start + timedelta(seconds=1), start + timedelta(days=8)))
                   ) == {week.slot.meeting_id}
        assert ids(await read(("district_1", start, start),
                              ("district_2", start - timedelta(days=1), start))) == {
            first.slot.meeting_id, other.slot.meeting_id}
        assert await read(("district_3", start, start + timedelta(days=30))) == []
        assert [b.slot for b in await read(("district_2", start, start))] == [other.slot]

    # -- invitations ---------------------------------------------------------------------------

    async def test_situations_joining_a_meeting_grow_its_invitations_in_order(
            self, store: ConveningStore) -> None:
        m = new_meeting()
        mid = m.slot.meeting_id
        await store.record_booking(meetings=[m])
        s1, s2 = uuid7(), uuid7()
        first = join(mid, (), s1, (CMB, ORIGIN, HOUSING), T0)
        second = join(mid, [CMB.agency_id, ORIGIN.agency_id, HOUSING.agency_id], s2,
                      (BOTH, HOUSING, CMB), T0)
        assert [i.agency_id for i in second.new] == [BOTH.agency_id]
        await store.record_booking(joined=[(mid, s1, first), (mid, s2, second)])

        expected = invite(MeetingInvitations(meeting_id=mid), s1, (CMB, ORIGIN, HOUSING), T0)
        expected = invite(expected.invitations, s2, (BOTH, HOUSING, CMB), T0)
        assert await store.load_invitations(mid) == expected.invitations
        at = [("district_1", m.slot.starts_at, m.slot.starts_at)]
        [booked] = await store.meetings_in(at, 3)
        assert booked.situations == 2
        assert booked.invited == (CMB.agency_id, ORIGIN.agency_id, HOUSING.agency_id,
                                  BOTH.agency_id)
        [full] = await store.meetings_in(at, 2)  # placement never joins it: no invitations read
        assert (full.slot, full.situations, full.invited) == (booked.slot, 2, ())

    async def test_an_agenda_entry_added_again_is_kept_once_while_the_count_grows(
            self, store: ConveningStore) -> None:
        m = new_meeting()
        mid = m.slot.meeting_id
        await store.record_booking(meetings=[m])
        sid = uuid7()
        joining = join(mid, (), sid, (CMB, ORIGIN), T0)
        await store.record_booking(joined=[(mid, sid, joining)])
        again = join(mid, [CMB.agency_id, ORIGIN.agency_id], sid, (CMB, ORIGIN), T0)
        await store.record_booking(joined=[(mid, sid, again)])
        loaded = await store.load_invitations(mid)
        assert [i.situation_ids() for i in loaded.invitations] == [(sid,), (sid,)]
        [booked] = await store.meetings_in([("district_1", m.slot.starts_at, m.slot.starts_at)], ROOM)
        assert booked.situations == 2

    async def test_a_participant_is_invited_to_a_meeting_once(self, store: ConveningStore) -> None:
        m = new_meeting()
        mid = m.slot.meeting_id
        await store.record_booking(meetings=[m])
        await store.record_booking(joined=[(mid, uuid7(), join(mid, (), uuid7(), (CMB,), T0))])
        with pytest.raises(asyncpg.UniqueViolationError):
            await store.record_booking(joined=[(mid, uuid7(), join(mid, (), uuid7(), (CMB,), T0))])

    async def test_an_invitation_needs_its_meeting(self, store: ConveningStore) -> None:
        mid = uuid7()
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await store.record_booking(joined=[(mid, uuid7(), join(mid, (), uuid7(), (CMB,), T0))])

    async def test_a_batch_records_its_situations_new_meetings_and_joins_at_once(
            self, store: ConveningStore) -> None:
        stored = new_meeting()
        old, s0 = stored.slot.meeting_id, uuid7()
        await store.record_booking(meetings=[stored], joined=[(old, s0, join(old, (), s0, (CMB,), T0))])
        a, b, c = new_situation(), new_situation(), new_situation()
        created = new_meeting(starts_at=T0 + timedelta(days=9))
        mid = created.slot.meeting_id
        first = join(mid, (), sid_of(a), (CMB, ORIGIN), T0)
        second = join(mid, [CMB.agency_id, ORIGIN.agency_id], sid_of(b), (HOUSING, CMB), T0)
        third = join(old, [CMB.agency_id], sid_of(c), (CMB, HOUSING), T0)
        await store.record_booking(situations=[a, b, c], meetings=[created], joined=[
            (mid, sid_of(a), first), (mid, sid_of(b), second), (old, sid_of(c), third)])

        assert await store.known_situations([sid_of(a), sid_of(b), sid_of(c)]) == {
            sid_of(a), sid_of(b), sid_of(c)}
        expected = invite(MeetingInvitations(meeting_id=mid), sid_of(a), (CMB, ORIGIN), T0)
        expected = invite(expected.invitations, sid_of(b), (HOUSING, CMB), T0)
        assert await store.load_invitations(mid) == expected.invitations
        assert [(i.agency_id, i.situation_ids()) for i in
                (await store.load_invitations(old)).invitations] == [
            (CMB.agency_id, (s0, sid_of(c))), (HOUSING.agency_id, (sid_of(c),))]
        found = await store.meetings_in([("district_1", T0, T0 + timedelta(days=30))], ROOM)
        assert {m.slot.meeting_id: (m.situations, m.invited) for m in found} == {
            old: (2, (CMB.agency_id, HOUSING.agency_id)),
            mid: (2, (CMB.agency_id, ORIGIN.agency_id, HOUSING.agency_id))}
        await store.record_booking()

    async def test_an_invitation_of_a_meeting_created_beside_it_needs_that_meeting(
            self, store: ConveningStore) -> None:
        created, elsewhere = new_meeting(), uuid7()
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await store.record_booking(meetings=[created], joined=[
                (elsewhere, uuid7(), join(elsewhere, (), uuid7(), (CMB,), T0))])

    async def test_invitations_of_several_meetings_have_an_entry_each(
            self, store: ConveningStore) -> None:
        m1, m2 = new_meeting(), new_meeting(starts_at=T0 + timedelta(days=9))
        await store.record_booking(meetings=[m1, m2])
        mid1, mid2, unknown = m1.slot.meeting_id, m2.slot.meeting_id, uuid7()
        sid = uuid7()
        await store.record_booking(joined=[(mid1, sid, join(mid1, (), sid, (CMB, HOUSING), T0))])
        found = await store.load_invitations_of([mid1, mid2, unknown])
        assert found == {mid1: await store.load_invitations(mid1),
                         mid2: MeetingInvitations(meeting_id=mid2),
                         unknown: MeetingInvitations(meeting_id=unknown)}
        assert [i.agency_id for i in found[mid1].invitations] == [CMB.agency_id, HOUSING.agency_id]

    async def test_agenda_rows_of_meetings_are_their_stored_situations(
            self, store: ConveningStore) -> None:
        m1, m2 = new_meeting(), new_meeting(starts_at=T0 + timedelta(days=9))
        await store.record_booking(meetings=[m1, m2])
        a, b = new_situation(), new_situation()
        await store.record_booking(situations=[a, b])
        sa, sb, ghost = sid_of(a), sid_of(b), uuid7()
        mid1, mid2 = m1.slot.meeting_id, m2.slot.meeting_id
        one = join(mid1, (), sa, (CMB, ORIGIN), T0)
        unstored = join(mid1, [CMB.agency_id, ORIGIN.agency_id], ghost, (CMB,), T0)
        await store.record_booking(joined=[(mid1, sa, one), (mid1, ghost, unstored),
                                    (mid2, sb, join(mid2, (), sb, (CMB,), T0))])
        assert [r.situation_id for r in await store.agenda_rows_of([mid1])] == [sa]
        assert {r.situation_id for r in await store.agenda_rows_of([mid1, mid2])} == {sa, sb}
        assert await store.agenda_rows_of([uuid7()]) == []

    async def test_an_invitation_is_found_only_at_its_meeting(self, store: ConveningStore) -> None:
        m1, m2 = new_meeting(), new_meeting(starts_at=T0 + timedelta(days=9))
        await store.record_booking(meetings=[m1, m2])
        mid1, mid2 = m1.slot.meeting_id, m2.slot.meeting_id
        joining = join(mid1, (), uuid7(), (ORIGIN,), T0)
        await store.record_booking(joined=[(mid1, uuid7(), joining)])
        [invitation] = joining.new
        assert await store.invitation(uuid7(), invitation.invitation_id) is None
        assert await store.invitation(mid1, invitation.invitation_id) == (
            m1.slot.starts_at, ORIGIN.agency_id)
        assert await store.invitation(mid1, uuid7()) == (m1.slot.starts_at, None)
        assert await store.invitation(mid2, invitation.invitation_id) == (m2.slot.starts_at, None)

    async def test_an_answer_is_recorded_and_replaced(self, store: ConveningStore) -> None:
        m = new_meeting()
        mid = m.slot.meeting_id
        await store.record_booking(meetings=[m])
        joining = join(mid, (), uuid7(), (ORIGIN,), T0)
        await store.record_booking(joined=[(mid, uuid7(), joining)])
        iid = joining.new[0].invitation_id
        assert await store.recorded_answer(iid) is None
        await store.record_answer(iid, mid, ORIGIN.agency_id, "accepted", "in_person", T0)
        assert await store.recorded_answer(iid) == ("accepted", "in_person")
        await store.record_answer(iid, mid, ORIGIN.agency_id, "declined", None, T0)
        assert await store.recorded_answer(iid) == ("declined", None)

    async def test_an_answer_needs_its_meeting(self, store: ConveningStore) -> None:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await store.record_answer(uuid7(), uuid7(), ORIGIN.agency_id, "accepted", None, T0)

    # -- agendas issued ------------------------------------------------------------------------

    async def test_what_each_participant_last_received_and_whether_an_update_waits(
            self, store: ConveningStore) -> None:
        m = new_meeting()
        mid, unknown = m.slot.meeting_id, uuid7()
        await store.record_booking(meetings=[m])
        assert await store.issued_of([mid, unknown]) == {mid: {}, unknown: {}}
        s1, s2 = uuid7(), uuid7()
        t1, t2, t3 = T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
        await store.record_issued_many({(mid, CMB.agency_id): (1, [s1]),
                                        (mid, ORIGIN.agency_id): (1, [])}, t1)
        assert await store.issued_of([mid]) == {mid: {
            CMB.agency_id: Issued(1, t1, frozenset({s1})), ORIGIN.agency_id: Issued(1, t1)}}
        await store.mark_pending([(mid, CMB.agency_id), (mid, HOUSING.agency_id)], t2)
        await store.mark_pending([(mid, CMB.agency_id)], t3)
        await store.mark_pending([], t3)
        assert await store.issued_of([mid]) == {mid: {
            CMB.agency_id: Issued(1, t1, frozenset({s1}), pending=True),
            ORIGIN.agency_id: Issued(1, t1)}}
        await store.record_issued_many({(mid, CMB.agency_id): (2, [s2, s1])}, t3)
        await store.record_issued_many({}, t3)
        assert (await store.issued_of([mid]))[mid][CMB.agency_id] == Issued(2, t3, frozenset({s1, s2}))

    async def test_an_issued_agenda_needs_its_meeting(self, store: ConveningStore) -> None:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await store.record_issued_many({(uuid7(), CMB.agency_id): (1, [])}, T0)

    # -- timers --------------------------------------------------------------------------------

    async def test_a_timer_started_twice_is_one_timer(self, store: ConveningStore) -> None:
        sid = uuid7()
        first = sla_timer(sid, "sla_warning", T0 + timedelta(hours=24))
        await store.insert_timers([first], T0)
        await store.insert_timers([sla_timer(sid, "sla_warning", T0 + timedelta(hours=30)),
                                   sla_timer(sid, "sla_breach", T0 + timedelta(hours=48))], T0)
        await store.insert_timers([], T0)
        pending = sorted(await store.pending_timers(sid), key=lambda t: t.key)
        assert pending == [sla_timer(sid, "sla_breach", T0 + timedelta(hours=48)), first]
        assert await store.pending_timers(uuid7()) == []

    async def test_a_settled_timer_is_no_longer_pending_nor_taken(self, store: ConveningStore) -> None:
        sid = uuid7()
        warning = sla_timer(sid, "sla_warning", T0)
        breach = sla_timer(sid, "sla_breach", T0 + timedelta(minutes=1))
        await store.insert_timers([warning, breach], T0)
        await store.settle_timers([warning.key, "no-such-timer"], "fired", T0)
        await store.settle_timers([], "cancelled", T0)
        assert await store.pending_timers(sid) == [breach]
        await store.insert_timers([warning], T0)  # started again: still settled
        assert await store.pending_timers(sid) == [breach]

    async def test_the_agenda_timer_is_armed_at_the_earlier_time_and_rearmed_once_fired(
            self, store: ConveningStore) -> None:
        mid = uuid7()
        t1, t2, t3 = (T0 + timedelta(minutes=n) for n in (10, 20, 30))
        await store.arm_agenda_timer(mid, t2, T0)
        assert await store.pending_timers(mid) == [agenda_timer(mid, t2)]
        await store.arm_agenda_timer(mid, t3, T0)
        assert await store.pending_timers(mid) == [agenda_timer(mid, t2)], "the earlier stays"
        await store.arm_agenda_timer(mid, t1, T0)
        assert await store.pending_timers(mid) == [agenda_timer(mid, t1)]
        await store.settle_timers([agenda_timer(mid, t1).key], "fired", t1)
        assert await store.pending_timers(mid) == []
        await store.arm_agenda_timer(mid, t3, t2)
        assert await store.pending_timers(mid) == [agenda_timer(mid, t3)], "armed again once fired"

    async def test_a_parked_agenda_timer_stays_parked(self, store: ConveningStore) -> None:
        mid = uuid7()
        key = agenda_timer(mid, T0).key
        await store.insert_timers([agenda_timer(mid, T0)], T0)
        for _ in range(3):  # the runtime's loop counts failures in the row (its contract)
            await store.timer_store.failed(key, "boom", 3, T0)
        assert await store.pending_timers(mid) == []
        await store.arm_agenda_timer(mid, T0, T0)
        assert await store.pending_timers(mid) == [], "a parked timer stays parked"

    async def test_placement_is_locked_within_the_transaction(self, store: ConveningStore) -> None:
        await store.lock_placement(["district_1", "district_2"])
        await store.lock_placement(["district_2"])  # the holder takes it again without waiting
        assert await store.known_situations([]) == set()

