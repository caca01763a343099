"""convening's shell on the in-memory store: each handler's load → decide → save → emit, in
milliseconds, without Kafka or PostgreSQL.

The handlers and the timer loop get :class:`~tests.support.fakes.convening.InMemoryConveningStore`
for any connection (it keeps the store contract, ``tests/support/contracts/convening_store.py``);
records come back as the outbox would publish them and are decoded with the contracts' envelope.
The real directory and reference data decide who is invited and who chairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from uuid import UUID

import pytest
from prometheus_client import REGISTRY
from uuid6 import uuid7

from directory import DirectoryHolder, category_sectors, reference_codes
from schemas.base import Actor, Message
from schemas.commands import (
    AssignAgencies,
    ConcludeSituation,
    RecordAerDecision,
    RecordIntervention,
    RespondToAssignment,
    RespondToInvitation,
)
from schemas.envelope import Envelope
from schemas.errors import RuleViolation
from schemas.meetings import (
    AgendaIssued,
    CommandRejected,
    MeetingScheduled,
    ParticipantInvited,
    UrgentSituationAdded,
)
from schemas.reference import reference
from schemas.referrals import SituationSummary
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationOpened,
    SituationScheduled,
    SlaBreached,
    SlaWarning,
)
from schemas.topics import topic
from services.convening.agenda import agenda_due_at
from services.convening.handlers import SOURCE, Deps, Handlers, issue_agendas
from services.convening.settings import ConveningSettings
from services.convening.timer_loop import PARK_AFTER, fire_due
from services.runtime import events as runtime_events
from services.runtime.clock import ManualClock
from services.runtime.db import Connection
from services.runtime.kafka import InRecord, OutRecord
from tests.support.fakes.convening import InMemoryConveningStore
from tests.support.fakes.pool import OutboxPool
from tests.support.samples import sample, summary

pytestmark = pytest.mark.unit

CLIENT = "/test/convening"
INTAKE = "/commande/intake"
CHAIR_D1 = Actor(agency_id="hrps-cmb-d1", role="table_chair")
LEAD = "mental-health-assoc"
ASSISTING = "housing-services"
ORIGINATOR = "justice-services"
"""Acts on none of the sample's risk categories: invited only as the originator."""
START = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
"""A Monday, noon in Halton: district 1's Tuesday meeting is within its cut-off."""
CONN = cast(Connection, object())
"""The handlers pass the connection only to ``stores``; the fake ignores it."""
M = TypeVar("M", bound=Message)


@pytest.fixture(scope="module")
def directory() -> DirectoryHolder:
    return DirectoryHolder(ConveningSettings().directory_path, reference_codes(reference()))


def _in(rec: OutRecord) -> InRecord:
    return InRecord(topic=rec.topic, partition=0, offset=0, key=rec.key, value=rec.value,
                    headers=rec.headers)


@dataclass
class Published:
    """What a handler returned, decoded; lane copies are kept apart."""

    envelopes: list[Envelope[Message]]
    lane_copies: list[Envelope[Message]]

    @classmethod
    def of(cls, records: Sequence[OutRecord]) -> Published:
        decoded = [(rec.topic, runtime_events.decode(_in(rec))) for rec in records]
        return cls([env for t, env in decoded if topic(t).lane_of is None],
                   [env for t, env in decoded if topic(t).lane_of is not None])

    @property
    def events(self) -> list[Message]:
        return [env.event for env in self.envelopes]

    def all(self, model: type[M]) -> list[M]:
        return [e for e in self.events if isinstance(e, model)]

    def one(self, model: type[M]) -> M:
        [found] = self.all(model)
        return found


@dataclass
class Shell:
    """The handlers on a fake store and a manual clock."""

    handlers: Handlers
    store: InMemoryConveningStore
    clock: ManualClock
    deps: Deps
    published: list[OutRecord] = field(default_factory=list)

    async def situations(self, *messages: Message, source: str = INTAKE) -> Published:
        """One consumer batch of the situations stream."""
        items = [self.record(m, source) for m in messages]
        return Published.of(await self.handlers.situation_events(CONN, items))

    async def command(self, command: Message) -> tuple[UUID, Published]:
        """One table command, as the gateway publishes it; its ``ce_id`` and what it caused."""
        env, rec = self.record(command, CLIENT)
        return env.id, Published.of(await self.handlers.command(CONN, env, rec))

    def record(self, message: Message, source: str) -> tuple[Envelope[Message], InRecord]:
        rec = _in(runtime_events.emit(message, source=source, time=self.clock.now()))
        return runtime_events.decode(rec), rec

    async def fire_timers(self) -> Published:
        """One look of the timer loop (its transactions on the fake store)."""
        before = len(self.published)
        await fire_due(self.deps, OutboxPool(self.published).as_pool(), "convening", self.store)
        return Published.of(self.published[before:])


def shell(directory: DirectoryHolder, **settings: Any) -> Shell:
    ref = reference()
    clock = ManualClock(START)
    deps = Deps(settings=ConveningSettings(**settings), clock=clock, directory=directory,
                reference=ref, category_sectors=category_sectors(ref))
    store = InMemoryConveningStore()
    return Shell(Handlers(deps, stores=store), store, clock, deps)


def opened(clock: ManualClock, *, municipality: str = "milton", district: str = "district_1",
           priority: str = "routine", **summary_fields: Any) -> SituationOpened:
    sid = uuid7()
    fields = {**summary().model_dump(), "municipality": municipality, **summary_fields}
    return sample(SituationOpened, situation_id=sid, referral_ref=f"TEST-{sid.hex[:12]}",
                  originating_agency=ORIGINATOR, district=district, priority=priority,
                  opened_at=clock.now(), summary=SituationSummary(**fields))


def command(model: type[M], sid: UUID, clock: ManualClock, **fields: Any) -> M:
    return sample(model, situation_id=sid, issued_at=clock.now(), **fields)


# -- the situations stream ----------------------------------------------------------------------


async def test_an_opened_situation_is_scheduled_its_meeting_created_and_participants_invited(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    event = opened(s.clock)
    out = await s.situations(event)

    scheduled = out.one(SituationScheduled)
    meeting = out.one(MeetingScheduled)
    assert (scheduled.situation_id, scheduled.slot, scheduled.district) == (
        event.situation_id, "regular", "district_1")
    assert (meeting.meeting_id, meeting.kind, meeting.starts_at) == (
        scheduled.meeting_id, "regular", scheduled.meeting_starts_at)
    assert meeting.ends_at - meeting.starts_at == timedelta(hours=2)
    invited = {i.agency_id: i for i in out.all(ParticipantInvited)}
    assert [type(e) for e in out.events] == [SituationScheduled, MeetingScheduled,
                                             *[ParticipantInvited] * len(invited)]
    assert invited["hrps-cmb-d1"].reason == "district_cmb"
    assert invited[ORIGINATOR].reason == "originating_agency"
    assert invited[ASSISTING].reason == "sector_match"
    assert "housing" in invited[ASSISTING].matched_sectors
    assert all(i.situation_ids == (event.situation_id,) for i in invited.values())
    assert out.all(AgendaIssued) == [], "a regular meeting's agendas wait for their lead time"
    assert out.lane_copies == []
    assert {env.source for env in out.envelopes} == {SOURCE}

    # saved: the situation on its meeting, the meeting, its invitations, its agenda timer
    state = await s.store.lock_situation(event.situation_id)
    assert state is not None
    assert (state.status, state.meeting_id) == ("scheduled", meeting.meeting_id)
    slot = await s.store.read_meeting(meeting.meeting_id)
    assert slot is not None
    invitations = await s.store.load_invitations(meeting.meeting_id)
    assert {i.agency_id: i.invitation_id for i in invitations.invitations} == {
        a: i.invitation_id for a, i in invited.items()}
    table = directory.current().table("district_1")
    assert table is not None
    [timer] = await s.store.pending_timers(meeting.meeting_id)
    assert (timer.kind, timer.due_at) == ("agenda", agenda_due_at(slot, table))
    assert s.store.locked_districts == [("district_1",)], "its table's placement, once"


async def test_every_record_names_the_opening_as_its_cause(directory: DirectoryHolder) -> None:
    s = shell(directory)
    event = opened(s.clock)
    env, rec = s.record(event, INTAKE)
    out = Published.of(await s.handlers.situation_event(CONN, env, rec))
    assert out.envelopes
    assert {(e.causationid, e.correlationid) for e in out.envelopes} == {(str(env.id), str(env.id))}


async def test_a_situation_opened_twice_is_placed_once(directory: DirectoryHolder) -> None:
    s = shell(directory)
    event = opened(s.clock)
    first = await s.situations(event)
    assert first.events
    assert (await s.situations(event)).events == []
    again = await s.situations(event, event)  # twice in one batch: one at a time, in order
    assert again.events == []
    [booked] = await s.store.meetings_in([("district_1", START, START + timedelta(days=30))], 100)
    assert booked.situations == 1


async def test_our_own_events_are_skipped(directory: DirectoryHolder) -> None:
    s = shell(directory)
    assert (await s.situations(opened(s.clock), source=SOURCE)).events == []
    assert s.store.situations == {}


async def test_an_urgent_situation_gets_an_ad_hoc_meeting_with_agendas_at_once(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    event = opened(s.clock, municipality="burlington", district="district_3", priority="urgent")
    out = await s.situations(event)

    scheduled = out.one(SituationScheduled)
    assert scheduled.slot == "ad_hoc"
    assert scheduled.meeting_starts_at - START <= timedelta(hours=24)
    assert out.one(MeetingScheduled).kind == "ad_hoc"
    invited = out.all(ParticipantInvited)
    agendas = out.all(AgendaIssued)
    assert {a.agency_id for a in agendas} == {i.agency_id for i in invited}
    assert {"hrps-cmb-d3", ORIGINATOR} <= {a.agency_id for a in agendas}
    assert all((a.kind, a.revision, a.added) == ("first", 1, ()) for a in agendas)
    assert all([i.situation_id for i in a.items] == [event.situation_id] for a in agendas)
    assert all(a.meeting is not None and a.meeting.kind == "ad_hoc" for a in agendas)
    # urgent records also go to their lane, once each
    assert [e.id for e in out.lane_copies] == [e.id for e in out.envelopes
                                               if e.id in {c.id for c in out.lane_copies}]
    assert out.lane_copies
    issued = (await s.store.issued_of([scheduled.meeting_id]))[scheduled.meeting_id]
    assert {a: i.revision for a, i in issued.items()} == {a.agency_id: 1 for a in agendas}
    assert not any(i.pending for i in issued.values())


async def test_a_situation_joining_an_issued_agenda_waits_for_the_update_window(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    first = opened(s.clock, municipality="burlington", district="district_3", priority="urgent")
    meeting_id = (await s.situations(first)).one(SituationScheduled).meeting_id
    s.clock.advance(timedelta(seconds=10))
    late = opened(s.clock, municipality="burlington", district="district_3", priority="urgent",
                  risk_factors=("housing.eviction_risk", "drugs.substance_misuse"))
    out = await s.situations(late)

    assert out.one(SituationScheduled).meeting_id == meeting_id
    assert out.all(MeetingScheduled) == []
    newcomers = {i.agency_id for i in out.all(ParticipantInvited)}
    assert newcomers
    assert {a.agency_id for a in out.all(AgendaIssued)} == newcomers, \
        "only newcomers' first agendas at once"
    assert {a.kind for a in out.all(AgendaIssued)} == {"first"}
    issued = (await s.store.issued_of([meeting_id]))[meeting_id]
    waiting = {a for a, i in issued.items() if i.pending}
    assert "hrps-cmb-d3" in waiting
    [timer] = await s.store.pending_timers(meeting_id)
    assert timer.due_at <= START + timedelta(seconds=60)
    told = out.one(UrgentSituationAdded)
    assert (told.agency_id, told.situation_id, told.meeting_id) == (
        "hrps-cmb-d3", late.situation_id, meeting_id), "the waiting chair is told at once"
    assert told.agendas_by == START + timedelta(seconds=60)
    assert told.meeting.ends_at == (await s.store.meeting_ends([meeting_id]))[meeting_id]
    assert any(c.type == UrgentSituationAdded.ce_type for c in out.lane_copies), \
        "on the urgent lane too"

    # Before the window ends, the agenda timer issues nothing and looks again at its end ...
    assert (await s.fire_timers()).events == []
    [timer] = await s.store.pending_timers(meeting_id)
    assert timer.due_at == START + timedelta(seconds=60), "the update window after the first issue"
    # ... where it issues one update per waiting participant, with every change of the window.
    s.clock.set(timer.due_at)
    fired = await s.fire_timers()
    updates = fired.all(AgendaIssued)
    assert {a.agency_id for a in updates} == waiting
    assert s.store.locked_districts[-1] == ("district_3",), "under its table's placement lock"
    chair = next(a for a in updates if a.agency_id == "hrps-cmb-d3")
    assert (chair.kind, chair.revision, chair.added) == ("update", 2, (late.situation_id,))
    assert [i.position for i in chair.items] == [1, 2]
    assert await s.store.pending_timers(meeting_id) == []
    assert (await s.fire_timers()).events == [], "each update once"


async def test_a_batch_fills_a_meeting_in_turn_then_the_next_regular_one(
        directory: DirectoryHolder) -> None:
    s = shell(directory, meeting_capacity=2)
    events = [opened(s.clock, municipality="burlington", district="district_3") for _ in range(3)]
    out = await s.situations(*events)

    scheduled = out.all(SituationScheduled)
    assert [e.situation_id for e in scheduled] == [e.situation_id for e in events]
    assert scheduled[0].meeting_id == scheduled[1].meeting_id != scheduled[2].meeting_id
    assert scheduled[2].meeting_starts_at > scheduled[0].meeting_starts_at
    assert [m.meeting_id for m in out.all(MeetingScheduled)] == [
        scheduled[0].meeting_id, scheduled[2].meeting_id]
    assert s.store.placement_locks == 1, "the batch is placed under one hold of the lock"
    booked = await s.store.meetings_in([("district_3", START, START + timedelta(days=60))], 2)
    assert sorted(b.situations for b in booked) == [1, 2]


async def test_a_batch_reads_the_calendar_as_far_as_the_last_placement_went_at_once(
        directory: DirectoryHolder) -> None:
    s = shell(directory, meeting_capacity=2)
    first = await s.situations(*(opened(s.clock, municipality="burlington", district="district_3")
                                 for _ in range(5)))
    meetings = [e.meeting_id for e in first.all(SituationScheduled)]
    assert len(set(meetings)) == 3, "2 + 2 + 1: the third regular meeting has room"
    reads = s.store.calendar_reads
    later = await s.situations(opened(s.clock, municipality="burlington", district="district_3"))
    [scheduled] = later.all(SituationScheduled)
    assert scheduled.meeting_id == meetings[-1], "where placement puts it, however far it reads"
    assert s.store.calendar_reads == reads + 1, "one read, up to the third meeting, not three"


def _placement_waits(batch: str) -> float:
    return REGISTRY.get_sample_value("commande_placement_lock_wait_seconds_count",
                                     {"batch": batch}) or 0.0


async def test_each_placement_reports_its_wait_for_the_lock_by_urgency(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    urgent, routine = _placement_waits("urgent"), _placement_waits("routine")
    await s.situations(opened(s.clock, municipality="burlington", district="district_3"))
    assert (_placement_waits("urgent"), _placement_waits("routine")) == (urgent, routine + 1)
    await s.situations(opened(s.clock, municipality="burlington", district="district_3"),
                       opened(s.clock, municipality="milton", district="district_1",
                              priority="urgent"))
    assert (_placement_waits("urgent"), _placement_waits("routine")) == (urgent + 1, routine + 1)


async def test_a_batch_holds_the_placement_of_its_own_tables_only(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    await s.situations(opened(s.clock, municipality="burlington", district="district_3"),
                       opened(s.clock, municipality="milton", district="district_1"),
                       opened(s.clock, municipality="burlington", district="district_3"))
    [districts] = s.store.locked_districts
    assert sorted(districts) == ["district_1", "district_3"], "not 2 District's: Oakville's"


async def test_a_situation_no_table_takes_is_refused_before_anything_is_written(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    with pytest.raises(RuleViolation, match="municipality_outside_halton"):
        await s.situations(opened(s.clock, municipality="toronto"))
    with pytest.raises(RuleViolation, match="served by district_2"):
        await s.situations(opened(s.clock, municipality="oakville", district="district_1"))
    assert s.store.situations == {}
    assert s.store.meetings == {}
    assert s.store.placement_locks == 0


# -- the table's commands -----------------------------------------------------------------------


async def scheduled_situation(s: Shell) -> SituationScheduled:
    return (await s.situations(opened(s.clock))).one(SituationScheduled)


async def confirmed_situation(s: Shell) -> SituationScheduled:
    """A situation scheduled, then confirmed by its chair at the start of its meeting."""
    scheduled = await scheduled_situation(s)
    s.clock.set(scheduled.meeting_starts_at)
    await s.command(command(RecordAerDecision, scheduled.situation_id, s.clock, actor=CHAIR_D1,
                            meeting_id=scheduled.meeting_id))
    return scheduled


async def test_filter_2_runs_to_conclusion_starting_and_settling_its_timers(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    scheduled = await scheduled_situation(s)
    sid, mid = scheduled.situation_id, scheduled.meeting_id

    early, out = await s.command(command(RecordAerDecision, sid, s.clock, actor=CHAIR_D1,
                                         meeting_id=mid))
    refused = out.one(CommandRejected)
    assert (refused.command_id, refused.target, refused.target_id) == (early, "situation", sid)
    assert [r.code for r in refused.reasons] == ["meeting_not_started"]

    s.clock.set(scheduled.meeting_starts_at + timedelta(minutes=5))
    _, out = await s.command(command(RecordAerDecision, sid, s.clock, actor=CHAIR_D1,
                                     meeting_id=mid, decision="confirmed"))
    assert out.one(AerDecisionRecorded).decided_at == s.clock.now()
    assert s.store.timer_states(sid) == {"sla_warning": "pending", "sla_breach": "pending"}

    _, out = await s.command(command(AssignAgencies, sid, s.clock, actor=CHAIR_D1, meeting_id=mid,
                                     lead=LEAD, assisting=(ASSISTING,)))
    assert out.one(AgenciesAssigned).lead.state == "requested"
    assert s.store.timer_states(sid) == {
        "lead_acceptance": "pending", "sla_warning": "pending", "sla_breach": "pending"}

    lead = Actor(agency_id=LEAD, role="lead_agency")
    s.clock.advance(timedelta(hours=2))
    _, out = await s.command(command(RespondToAssignment, sid, s.clock, actor=lead,
                                     agency_id=LEAD, answer="accepted"))
    assert out.one(AssignmentResponded).to_state == "accepted"
    assert s.store.timer_states(sid)["lead_acceptance"] == "cancelled"

    s.clock.advance(timedelta(hours=10))
    _, out = await s.command(command(RecordIntervention, sid, s.clock, actor=lead, agency_id=LEAD,
                                     first_contact_at=s.clock.now() - timedelta(hours=1)))
    assert out.one(InterventionRecorded).agency_id == LEAD
    assert s.store.timer_states(sid) == {
        "lead_acceptance": "cancelled", "sla_warning": "cancelled", "sla_breach": "cancelled"}

    _, out = await s.command(command(ConcludeSituation, sid, s.clock, actor=CHAIR_D1,
                                     meeting_id=mid))
    assert out.one(SituationConcluded).conclusion == "risk_lowered_connected_to_services"
    closed = out.all(AssignmentResponded)
    assert {(c.agency_id, c.from_state, c.to_state) for c in closed} == {
        (LEAD, "accepted", "cancelled"), (ASSISTING, "requested", "cancelled")}
    assert all(c.reason == "situation concluded" for c in closed)

    _, out = await s.command(command(RespondToAssignment, sid, s.clock, actor=lead,
                                     agency_id=LEAD, answer="completed"))
    assert [r.code for r in out.one(CommandRejected).reasons] == ["situation_concluded"]
    state = await s.store.lock_situation(sid)
    assert state is not None
    assert state.status == "concluded"


async def test_only_the_districts_chair_decides(directory: DirectoryHolder) -> None:
    s = shell(directory)
    scheduled = await scheduled_situation(s)
    sid = scheduled.situation_id
    s.clock.set(scheduled.meeting_starts_at)
    before = await s.store.lock_situation(sid)
    for actor in (Actor(agency_id="hrps-cmb-d2", role="table_chair"),
                  Actor(agency_id=LEAD, role="member")):
        command_id, out = await s.command(command(RecordAerDecision, sid, s.clock, actor=actor,
                                                  meeting_id=scheduled.meeting_id))
        rejected = out.one(CommandRejected)
        assert (rejected.command_id, rejected.actor) == (command_id, actor)
        assert [r.code for r in rejected.reasons] == ["not_table_chair"]
        assert out.envelopes[0].subject == sid
    assert await s.store.lock_situation(sid) == before, "a refusal changes nothing"

    _, out = await s.command(command(RecordAerDecision, sid, s.clock, actor=CHAIR_D1,
                                     meeting_id=scheduled.meeting_id, decision="rejected"))
    assert out.one(SituationConcluded).conclusion == "rejected_not_aer"


async def test_a_command_for_a_situation_convening_does_not_know_is_rejected(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    sid = uuid7()
    command_id, out = await s.command(command(RecordAerDecision, sid, s.clock, actor=CHAIR_D1,
                                              meeting_id=uuid7()))
    rejected = out.one(CommandRejected)
    assert (rejected.command_id, rejected.target, rejected.target_id) == (command_id, "situation", sid)
    assert rejected.reasons
    assert s.store.situations == {}


async def test_a_conclusion_from_elsewhere_closes_the_situation_and_cancels_its_timers(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    scheduled = await confirmed_situation(s)
    sid = scheduled.situation_id
    assert s.store.timer_states(sid) == {"sla_warning": "pending", "sla_breach": "pending"}
    withdrawn = sample(SituationConcluded, situation_id=sid, conclusion="withdrawn",
                       concluded_at=s.clock.now(), meeting_id=None)
    out = await s.situations(withdrawn)

    assert out.events == [], "the conclusion is intake's event, not ours to publish"
    state = await s.store.lock_situation(sid)
    assert state is not None
    assert (state.status, state.conclusion) == ("concluded", "withdrawn")
    assert s.store.timer_states(sid) == {"sla_warning": "cancelled", "sla_breach": "cancelled"}
    assert (await s.situations(withdrawn)).events == []
    assert (await s.situations(sample(SituationConcluded, situation_id=uuid7()))).events == []


# -- invitation answers ------------------------------------------------------------------------


async def invitation_of(s: Shell, agency: str) -> tuple[SituationScheduled, ParticipantInvited]:
    out = await s.situations(opened(s.clock))
    return out.one(SituationScheduled), next(
        i for i in out.all(ParticipantInvited) if i.agency_id == agency)


async def test_an_invited_agency_answers_its_own_invitation_before_the_meeting(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    scheduled, invitation = await invitation_of(s, LEAD)
    _, out = await s.command(sample(
        RespondToInvitation, meeting_id=scheduled.meeting_id,
        invitation_id=invitation.invitation_id, issued_at=s.clock.now(),
        actor=Actor(agency_id=LEAD, role="member"), answer="accepted", attendance="remote"))
    assert out.envelopes == [], "no event exists for an answer"
    assert await s.store.recorded_answer(invitation.invitation_id) == ("accepted", "remote")


@pytest.mark.parametrize(("case", "code"), [
    ("another_agency", "not_own_invitation"),
    ("unknown_meeting", "unknown_meeting"),
    ("unknown_invitation", "unknown_invitation"),
    ("after_the_start", "meeting_started"),
])
async def test_an_invitation_answer_that_breaks_a_rule_is_rejected_for_the_meeting(
        directory: DirectoryHolder, case: str, code: str) -> None:
    s = shell(directory)
    scheduled, invitation = await invitation_of(s, LEAD)
    meeting_id = uuid7() if case == "unknown_meeting" else scheduled.meeting_id
    invitation_id = uuid7() if case == "unknown_invitation" else invitation.invitation_id
    agency = ASSISTING if case == "another_agency" else LEAD
    if case == "after_the_start":
        s.clock.set(scheduled.meeting_starts_at)
    command_id, out = await s.command(sample(
        RespondToInvitation, meeting_id=meeting_id, invitation_id=invitation_id,
        issued_at=s.clock.now(), actor=Actor(agency_id=agency, role="member")))
    rejected = out.one(CommandRejected)
    assert (rejected.command_id, rejected.target, rejected.target_id) == (
        command_id, "meeting", meeting_id)
    assert [r.code for r in rejected.reasons] == [code]
    assert await s.store.recorded_answer(invitation.invitation_id) is None


# -- the timer loop ----------------------------------------------------------------------------


async def test_sla_timers_fire_once_as_the_clock_moves(directory: DirectoryHolder) -> None:
    s = shell(directory)
    scheduled = await confirmed_situation(s)
    sid = scheduled.situation_id
    await s.command(command(AssignAgencies, sid, s.clock, actor=CHAIR_D1,
                            meeting_id=scheduled.meeting_id, lead=LEAD, assisting=(ASSISTING,)))
    confirmed = s.clock.now()

    s.clock.advance(timedelta(hours=11, minutes=59))
    assert (await s.fire_timers()).events == []
    s.clock.advance(timedelta(minutes=1))
    breached = (await s.fire_timers()).one(SlaBreached)
    assert (breached.sla, breached.agency_id) == ("lead_acceptance", LEAD)
    s.clock.set(confirmed + timedelta(hours=24))
    warned = (await s.fire_timers()).one(SlaWarning)
    assert (warned.sla, warned.started_at) == ("first_contact", confirmed)
    s.clock.set(confirmed + timedelta(hours=60))
    assert (await s.fire_timers()).one(SlaBreached).sla == "first_contact"
    assert (await s.fire_timers()).events == [], "each timer fires once"
    assert s.store.timer_states(sid) == {
        "lead_acceptance": "fired", "sla_warning": "fired", "sla_breach": "fired"}


async def test_a_timer_that_no_longer_applies_is_cancelled_when_due(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    scheduled = await confirmed_situation(s)
    sid = scheduled.situation_id
    state = await s.store.lock_situation(sid)
    assert state is not None
    # A conclusion whose cancellation was missed: the timer checks the state when it fires.
    await s.store.save_situation(state.model_copy(update={"status": "concluded",
                                                          "version": state.version + 1}),
                                 state.version, s.clock.now())
    s.clock.advance(timedelta(hours=49))
    assert (await s.fire_timers()).events == []
    assert s.store.timer_states(sid) == {"sla_warning": "cancelled", "sla_breach": "cancelled"}


async def test_a_timer_that_keeps_failing_is_parked(directory: DirectoryHolder,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    s = shell(directory)
    scheduled = await confirmed_situation(s)
    sid = scheduled.situation_id

    def broken(*_: object) -> None:
        raise ValueError("a bug, not a state of the world")

    monkeypatch.setattr("services.convening.timer_loop.fire", broken)
    s.clock.advance(timedelta(hours=49))
    for _ in range(PARK_AFTER):
        assert (await s.fire_timers()).events == []
    assert s.store.timer_states(sid) == {"sla_warning": "parked", "sla_breach": "parked"}


async def test_the_agenda_timer_issues_first_agendas_at_the_lead_time(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    scheduled = await scheduled_situation(s)
    meeting_id = scheduled.meeting_id
    invited = {i.agency_id for i in (await s.store.load_invitations(meeting_id)).invitations}
    [timer] = await s.store.pending_timers(meeting_id)
    s.clock.set(timer.due_at - timedelta(seconds=1))
    assert (await s.fire_timers()).events == []
    s.clock.set(timer.due_at)
    agendas = (await s.fire_timers()).all(AgendaIssued)
    assert {a.agency_id for a in agendas} == invited
    assert all((a.kind, a.revision) == ("first", 1) for a in agendas)
    assert await s.store.pending_timers(meeting_id) == []


async def test_issuing_agendas_before_their_time_or_after_the_start_issues_nothing(
        directory: DirectoryHolder) -> None:
    s = shell(directory)
    scheduled = await scheduled_situation(s)
    slot = await s.store.read_meeting(scheduled.meeting_id)
    table = directory.current().table("district_1")
    assert slot is not None
    assert table is not None
    window = s.deps.settings.agenda_update_window
    assert await issue_agendas(s.store, slot, table, window, agenda_due_at(slot, table)
                               - timedelta(seconds=1)) == ([], None)
    assert await issue_agendas(s.store, slot, table, window, slot.starts_at) == ([], None)
    assert await s.store.issued_of([slot.meeting_id]) == {slot.meeting_id: {}}
