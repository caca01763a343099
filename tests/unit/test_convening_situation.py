"""The situation state machine: every legal and illegal transition, authorisation, and a hypothesis
state-machine test that no command sequence reaches an illegal state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from uuid6 import uuid7

from schemas.base import Actor
from schemas.commands import (
    AssignAgencies,
    ConcludeSituation,
    RecordAerDecision,
    RecordIntervention,
    RespondToAssignment,
)
from schemas.errors import RuleViolation, StaleState
from schemas.reference import reference
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    SituationConcluded,
    SituationEvent,
    SituationOpened,
    SituationScheduled,
    SlaWarning,
)
from services.convening.model import MeetingKind, MeetingSlot
from services.convening.refusals import command_rejected
from services.convening.situation import (
    INITIAL,
    ReopenSituation,
    SituationCommand,
    SituationState,
    TableContext,
    decide,
    decide_schedule,
    evolve,
    fold,
)
from services.convening.tasks import NEEDS_REASON, TRANSITIONS, is_open
from services.runtime.decision import CommandRefused, CommandStale
from tests.support.samples import sample

SID = UUID("0194a1b2-0000-7000-8000-0000000000a1")
MEETING = UUID("0194a1b2-0000-7000-8000-0000000000b1")
OTHER_MEETING = UUID("0194a1b2-0000-7000-8000-0000000000b2")
T0 = datetime(2025, 6, 2, 14, tzinfo=UTC)
STARTS = T0 + timedelta(days=2)
CHAIR_ID = "hrps-cmb-d1"
ORIGINATOR = "public-health"
LEAD = "housing-services"
ASSIST = "mental-health-assoc"
OTHER = "halton-ems"
OUTSIDER = "town-oakville-legacy"
CHAIR = Actor(agency_id=CHAIR_ID, role="table_chair")
CONCLUSIONS = frozenset(
    {
        "rejected_not_aer",
        "returned_to_originator",
        "risk_lowered_connected_to_services",
        "risk_lowered_informed_of_services",
        "risk_lowered_other",
        "still_aer_refused_services",
        "still_aer_referred_elsewhere",
        "still_aer_unable_to_locate",
        "still_aer_other",
        "withdrawn",
    }
)
TABLE = TableContext(
    district="district_1",
    chair_agency_id=CHAIR_ID,
    members=frozenset({CHAIR_ID, ORIGINATOR, LEAD, ASSIST, OTHER}),
    identity_release="filter_3",
    conclusions=CONCLUSIONS,
)


def agency(agency_id: str, role: str = "lead_agency") -> Actor:
    return Actor(agency_id=agency_id, role=role)


def meeting(meeting_id: UUID = MEETING, starts: datetime = STARTS) -> MeetingSlot:
    return MeetingSlot(
        meeting_id=meeting_id,
        district="district_1",
        kind=MeetingKind.REGULAR,
        starts_at=starts,
        location="Station (synthetic)",
        scheduled_at=T0,
    )


def opened() -> SituationState:
    return evolve(
        INITIAL,
        sample(
            SituationOpened,
            situation_id=SID,
            district="district_1",
            originating_agency=ORIGINATOR,
            opened_at=T0,
        ),
    )


def run(state: SituationState, command: SituationCommand, now: datetime) -> SituationState:
    return decide(state, command, now, TABLE).state


def scheduled() -> SituationState:
    state = opened()
    return decide_schedule(state, meeting(), T0).state


def decision(value: str = "confirmed", actor: Actor = CHAIR, **kw: Any) -> RecordAerDecision:
    fields: dict[str, Any] = {
        "situation_id": SID,
        "actor": actor,
        "issued_at": STARTS,
        "meeting_id": MEETING,
        "decision": value,
        **kw,
    }
    return RecordAerDecision(**fields)


def assign(
    lead: str = LEAD, assisting: tuple[str, ...] = (ASSIST,), actor: Actor = CHAIR, release: str = "filter_3"
) -> AssignAgencies:
    return AssignAgencies(
        situation_id=SID,
        actor=actor,
        issued_at=STARTS,
        meeting_id=MEETING,
        lead=lead,
        assisting=assisting,
        identity_release=release,
    )


def respond(
    agency_id: str, answer: str, reason: str | None = None, actor: Actor | None = None
) -> RespondToAssignment:
    if reason is None and answer in {"rejected", "cancelled", "on-hold", "failed"}:
        reason = "synthetic reason"
    return RespondToAssignment(
        situation_id=SID,
        actor=actor or agency(agency_id),
        issued_at=STARTS,
        agency_id=agency_id,
        answer=answer,
        reason=reason,
    )


def intervention(
    agency_id: str = LEAD,
    outcome: str = "accepted_services",
    first_contact_at: datetime | None = STARTS,
    actor: Actor | None = None,
) -> RecordIntervention:
    return RecordIntervention(
        situation_id=SID,
        actor=actor or agency(agency_id),
        issued_at=STARTS,
        agency_id=agency_id,
        first_contact_at=first_contact_at,
        outcome=outcome,
    )


def conclude(code: str = "risk_lowered_connected_to_services", actor: Actor = CHAIR) -> ConcludeSituation:
    return ConcludeSituation(situation_id=SID, actor=actor, issued_at=STARTS, conclusion=code)


def reopen(actor: Actor = CHAIR) -> ReopenSituation:
    return ReopenSituation(situation_id=SID, actor=actor, issued_at=STARTS, reason="risk_rose_again")


def confirmed() -> SituationState:
    return run(scheduled(), decision(), STARTS)


def assigned() -> SituationState:
    return run(confirmed(), assign(), STARTS)


def accepted() -> SituationState:
    return run(assigned(), respond(LEAD, "accepted"), STARTS)


pytestmark = pytest.mark.unit


def reasons_of(exc: pytest.ExceptionInfo[Any]) -> list[str]:
    return [r.code for r in exc.value.reasons]


# -- the legal paths -----------------------------------------------------------------------


def test_opened_then_scheduled() -> None:
    state = scheduled()
    assert (state.status, state.meeting_id, state.meeting_starts_at) == ("scheduled", MEETING, STARTS)
    assert state.version == 2
    events = decide_schedule(opened(), meeting(), T0).events
    assert isinstance(events[0], SituationScheduled)
    assert events[0].slot == "regular"
    adhoc = meeting().model_copy(update={"kind": MeetingKind.ADHOC})
    assert decide_schedule(opened(), adhoc, T0).events[0].slot == "ad_hoc"  # type: ignore[attr-defined]


def test_a_scheduled_situation_may_move_to_another_meeting_but_not_the_same() -> None:
    moved = decide_schedule(scheduled(), meeting(OTHER_MEETING), T0).state
    assert moved.meeting_id == OTHER_MEETING
    with pytest.raises(CommandStale):
        decide_schedule(scheduled(), meeting(), T0)
    with pytest.raises(CommandStale):
        decide_schedule(confirmed(), meeting(OTHER_MEETING), T0)


def test_the_whole_road_to_conclusion() -> None:
    state = accepted()
    state = run(state, respond(LEAD, "in-progress"), STARTS)
    state = run(state, intervention(), STARTS + timedelta(hours=3))
    assert state.status == "intervention"
    assert state.first_contact_at == STARTS
    events = decide(state, conclude(), STARTS + timedelta(days=7), TABLE).events
    assert [type(e).__name__ for e in events] == [
        "AssignmentResponded",
        "AssignmentResponded",
        "SituationConcluded",
    ]
    cancelled = [e for e in events if isinstance(e, AssignmentResponded)]
    assert {(e.agency_id, e.to_state) for e in cancelled} == {(LEAD, "cancelled"), (ASSIST, "cancelled")}
    state = fold(events, state)
    assert (state.status, state.conclusion) == ("concluded", "risk_lowered_connected_to_services")


def test_confirmation_records_the_decision_time() -> None:
    state = confirmed()
    assert (state.status, state.aer_decision, state.confirmed_at) == ("confirmed", "confirmed", STARTS)


@pytest.mark.parametrize(
    ("value", "conclusion"),
    [("rejected", "rejected_not_aer"), ("returned", "returned_to_originator")],
)
def test_rejected_or_returned_is_concluded_at_once(value: str, conclusion: str) -> None:
    events = decide(scheduled(), decision(value), STARTS, TABLE).events
    assert [type(e) for e in events] == [AerDecisionRecorded, SituationConcluded]
    assert events[1].conclusion == conclusion  # type: ignore[attr-defined]
    after_decision = evolve(scheduled(), events[0])
    assert after_decision.status == value
    state = fold(events, scheduled())
    assert (state.status, state.aer_decision, state.confirmed_at) == ("concluded", value, None)


def test_reopening_starts_over() -> None:
    state = run(scheduled(), decision("returned"), STARTS)
    state = run(state, reopen(), STARTS + timedelta(days=1))
    assert state.status == "opened"
    assert (state.meeting_id, state.aer_decision, state.conclusion, state.tasks) == (None, None, None, ())
    state = decide_schedule(state, meeting(OTHER_MEETING), STARTS).state
    assert state.status == "scheduled"


def test_a_withdrawn_situation_is_not_reopened() -> None:
    withdrawn = evolve(
        scheduled(), SituationConcluded(situation_id=SID, conclusion="withdrawn", concluded_at=T0)
    )
    with pytest.raises(CommandRefused) as caught:
        decide(withdrawn, reopen(), STARTS, TABLE)
    assert reasons_of(caught) == ["withdrawn"]


def test_reassigning_cancels_dropped_open_tasks_and_keeps_retained_ones() -> None:
    state = run(accepted(), respond(ASSIST, "accepted"), STARTS)
    state = run(state, respond(LEAD, "failed", "could not reach"), STARTS)
    events = decide(state, assign(lead=OTHER, assisting=(ASSIST,)), STARTS, TABLE).events
    assert [type(e) for e in events] == [AgenciesAssigned]  # the failed lead needs no cancel
    state = fold(events, state)
    assert [(t.agency_id, t.role, t.state) for t in state.tasks] == [
        (OTHER, "lead", "requested"),
        (ASSIST, "assisting", "accepted"),
    ]
    events = decide(state, assign(lead=OTHER, assisting=()), STARTS, TABLE).events
    assert isinstance(events[0], AssignmentResponded)
    assert (events[0].agency_id, events[0].to_state) == (ASSIST, "cancelled")
    assert fold(events, state).tasks == (state.tasks[0],)


# -- FHIR task transitions -----------------------------------------------------------------

PATHS: dict[str, list[str]] = {
    "requested": [],
    "accepted": ["accepted"],
    "in-progress": ["accepted", "in-progress"],
    "on-hold": ["accepted", "on-hold"],
    "rejected": ["rejected"],
    "cancelled": ["cancelled"],
    "completed": ["accepted", "completed"],
    "failed": ["accepted", "failed"],
}
ANSWERS = ["accepted", "rejected", "in-progress", "on-hold", "completed", "failed", "cancelled"]


@pytest.mark.parametrize("answer", ANSWERS)
@pytest.mark.parametrize("current", list(PATHS))
def test_every_task_transition(current: str, answer: str) -> None:
    state = assigned()
    for step in PATHS[current]:
        state = run(state, respond(LEAD, step), STARTS)
    assert state.task(LEAD).state == current  # type: ignore[union-attr]
    if answer in TRANSITIONS[current]:
        after = run(state, respond(LEAD, answer), STARTS)
        task = after.task(LEAD)
        assert task is not None
        assert task.state == answer
        assert (task.reason is not None) == (answer in NEEDS_REASON)
    else:
        with pytest.raises(CommandStale) as caught:
            decide(state, respond(LEAD, answer), STARTS, TABLE)
        assert reasons_of(caught) == ["illegal_task_transition"]


def test_task_transitions_match_the_reference_data() -> None:
    graph = reference().task_states
    for state in graph.states:
        expected = set(graph.transitions.get(state.code, ())) | set(graph.from_any)
        expected.discard(state.code)
        assert TRANSITIONS[state.code] == expected, state.code
    assert set(graph.reason_required) == NEEDS_REASON


# -- authorisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "actor",
    [agency(CHAIR_ID, "cmb"), agency(ORIGINATOR, "table_chair"), agency(LEAD, "lead_agency")],
)
def test_only_the_district_chair_decides_assigns_concludes_and_reopens(actor: Actor) -> None:
    concluded = run(scheduled(), decision("rejected"), STARTS)
    cases: list[tuple[SituationState, SituationCommand]] = [
        (scheduled(), decision(actor=actor)),
        (confirmed(), assign(actor=actor)),
        (accepted(), conclude(actor=actor)),
        (concluded, reopen(actor=actor)),
    ]
    for state, command in cases:
        with pytest.raises(CommandRefused) as caught:
            decide(state, command, STARTS, TABLE)
        assert reasons_of(caught) == ["not_table_chair"]
        assert caught.value.reasons[0].field == "actor"


def test_another_districts_chair_is_refused() -> None:
    d2 = Actor(agency_id="hrps-cmb-d2", role="table_chair")
    with pytest.raises(CommandRefused):
        decide(scheduled(), decision(actor=d2), STARTS, TABLE)


def test_an_agency_answers_only_its_own_assignment() -> None:
    with pytest.raises(CommandRefused) as caught:
        decide(assigned(), respond(LEAD, "accepted", actor=agency(ASSIST)), STARTS, TABLE)
    assert reasons_of(caught) == ["not_own_assignment"]
    with pytest.raises(CommandRefused) as caught:
        decide(assigned(), respond(OTHER, "accepted"), STARTS, TABLE)
    assert reasons_of(caught) == ["not_assigned"]
    with pytest.raises(CommandRefused) as caught:
        decide(accepted(), intervention(actor=agency(ASSIST)), STARTS, TABLE)
    assert reasons_of(caught) == ["not_own_assignment"]
    with pytest.raises(CommandRefused) as caught:
        decide(accepted(), intervention(agency_id=OTHER), STARTS, TABLE)
    assert reasons_of(caught) == ["not_assigned"]


def test_the_chair_does_not_answer_for_an_agency() -> None:
    with pytest.raises(CommandRefused):
        decide(assigned(), respond(LEAD, "accepted", actor=CHAIR), STARTS, TABLE)


def test_assignment_reports_every_problem() -> None:
    with pytest.raises(CommandRefused) as caught:
        decide(
            confirmed(),
            assign(lead=OUTSIDER, assisting=(ASSIST, "nobody"), release="filter_4"),
            STARTS,
            TABLE,
        )
    assert [(r.code, r.field) for r in caught.value.reasons] == [
        ("identity_release_mismatch", "identity_release"),
        ("agency_not_table_member", "lead"),
        ("agency_not_table_member", "assisting.1"),
    ]


# -- commands that do not fit the state ------------------------------------------------------


def test_decisions_wait_for_the_meeting_and_must_name_it() -> None:
    with pytest.raises(CommandStale) as caught:
        decide(scheduled(), decision(), STARTS - timedelta(minutes=1), TABLE)
    assert reasons_of(caught) == ["meeting_not_started"]
    with pytest.raises(CommandStale) as caught:
        decide(scheduled(), decision(meeting_id=OTHER_MEETING), STARTS, TABLE)
    assert reasons_of(caught) == ["wrong_meeting"]


@pytest.mark.parametrize(
    ("state_name", "command_name"),
    [
        ("opened", "decision"),
        ("confirmed", "decision"),
        ("assigned", "decision"),
        ("opened", "assign"),
        ("scheduled", "assign"),
        ("opened", "respond"),
        ("scheduled", "respond"),
        ("confirmed", "respond"),
        ("opened", "intervention"),
        ("confirmed", "intervention"),
        ("opened", "conclude"),
        ("scheduled", "conclude"),
        ("opened", "reopen"),
        ("scheduled", "reopen"),
        ("accepted", "reopen"),
    ],
)
def test_commands_out_of_state_are_stale(state_name: str, command_name: str) -> None:
    states: dict[str, Callable[[], SituationState]] = {
        "opened": opened,
        "scheduled": scheduled,
        "confirmed": confirmed,
        "assigned": assigned,
        "accepted": accepted,
    }
    commands: dict[str, Callable[[], SituationCommand]] = {
        "decision": decision,
        "assign": assign,
        "respond": lambda: respond(LEAD, "accepted"),
        "intervention": intervention,
        "conclude": conclude,
        "reopen": reopen,
    }
    with pytest.raises(CommandStale) as caught:
        decide(states[state_name](), commands[command_name](), STARTS, TABLE)
    assert reasons_of(caught) == ["wrong_state"]


@pytest.mark.parametrize(
    "command", [decision(), assign(), respond(LEAD, "accepted"), intervention(), conclude()]
)
def test_nothing_but_reopening_touches_a_concluded_situation(command: SituationCommand) -> None:
    concluded = run(scheduled(), decision("rejected"), STARTS)
    with pytest.raises(CommandStale) as caught:
        decide(concluded, command, STARTS, TABLE)
    assert reasons_of(caught) == ["situation_concluded"]


def test_an_unknown_situation_is_stale() -> None:
    with pytest.raises(CommandStale) as caught:
        decide(INITIAL, decision(), STARTS, TABLE)
    assert reasons_of(caught) == ["unknown_situation"]
    other = decision().model_copy(update={"situation_id": OTHER_MEETING})
    with pytest.raises(CommandStale):
        decide(scheduled(), other, STARTS, TABLE)


def test_interventions_need_an_accepted_task_and_a_first_contact() -> None:
    with pytest.raises(CommandStale) as stale:
        decide(assigned(), intervention(), STARTS, TABLE)
    assert reasons_of(stale) == ["task_not_accepted"]
    with pytest.raises(CommandRefused) as caught:
        decide(accepted(), intervention(first_contact_at=None), STARTS, TABLE)
    assert reasons_of(caught) == ["first_contact_missing"]
    with pytest.raises(CommandRefused) as caught:
        decide(accepted(), intervention(first_contact_at=STARTS + timedelta(hours=1)), STARTS, TABLE)
    assert reasons_of(caught) == ["first_contact_in_future"]
    pending = run(accepted(), intervention(outcome="unable_to_locate", first_contact_at=None), STARTS)
    assert (pending.status, pending.first_contact_at, pending.interventions) == ("intervention", None, 1)


def test_conclusions_must_be_known_and_fit() -> None:
    for code in ("rejected_not_aer", "returned_to_originator", "made_up"):
        with pytest.raises(CommandRefused) as caught:
            decide(accepted(), conclude(code), STARTS, TABLE)
        assert reasons_of(caught) == ["unknown_conclusion"]
    with pytest.raises(CommandStale) as stale:
        decide(accepted(), conclude("risk_lowered_other"), STARTS, TABLE)
    assert reasons_of(stale) == ["no_intervention"]
    state = run(accepted(), conclude("still_aer_unable_to_locate"), STARTS)
    assert state.status == "concluded"
    assert run(confirmed(), conclude("still_aer_other"), STARTS).status == "concluded"


def test_refusals_become_command_rejected() -> None:
    with pytest.raises(CommandRefused) as caught:
        decide(scheduled(), decision(actor=agency(LEAD)), STARTS, TABLE)
    event = command_rejected(
        caught.value,
        command_id=uuid7(),
        command_type=RecordAerDecision.ce_type,
        target="situation",
        target_id=SID,
        now=STARTS,
    )
    assert event.reasons == caught.value.reasons
    assert event.subject_id() == SID
    assert isinstance(caught.value, RuleViolation)
    assert issubclass(CommandStale, StaleState)


# -- evolve is strict ------------------------------------------------------------------------


def test_evolve_refuses_events_that_do_not_fit() -> None:
    open_event = sample(
        SituationOpened, situation_id=SID, district="district_1", originating_agency=ORIGINATOR, opened_at=T0
    )
    with pytest.raises(CommandStale):
        evolve(opened(), open_event)
    with pytest.raises(CommandStale):
        evolve(INITIAL, decide_schedule(opened(), meeting(), T0).events[0])
    foreign = sample(SituationScheduled, district="district_1")
    with pytest.raises(CommandStale):
        evolve(opened(), foreign)
    response = decide(assigned(), respond(LEAD, "accepted"), STARTS, TABLE).events[0]
    with pytest.raises(CommandStale):
        evolve(accepted(), response)  # the task is no longer requested
    assert evolve(assigned(), sample(SlaWarning, situation_id=SID)).status == "assigned"


# -- hypothesis: no command sequence reaches an illegal state ------------------------------

ACTORS = [
    CHAIR,
    agency(CHAIR_ID, "cmb"),
    agency(LEAD),
    agency(ASSIST, "assisting_agency"),
    agency(OTHER),
    agency(ORIGINATOR, "originating_agency"),
]
AGENCIES = [LEAD, ASSIST, OTHER, OUTSIDER]
# mostly the right actor and a member, so that sequences get deep; still often the wrong ones
actors = st.one_of(st.just(CHAIR), st.just(CHAIR), st.sampled_from(ACTORS))
members = st.one_of(st.sampled_from([LEAD, ASSIST]), st.sampled_from(AGENCIES))


class SituationMachine(RuleBasedStateMachine):
    """Throws arbitrary commands (most of them wrong) at one situation."""

    def __init__(self) -> None:
        super().__init__()
        self.state = INITIAL
        self.now = T0
        self.applied = 0
        self.meetings = [MEETING]

    def _apply(self, events: list[SituationEvent]) -> None:
        before = self.state
        for fact in events:
            self.state = evolve(self.state, fact)  # decide never emits what evolve refuses
        self.applied += len(events)
        assert self.state.situation_id in (None, SID)
        assert before.status is None or self.state.situation_id == SID

    def _try(self, command: SituationCommand) -> None:
        before = self.state
        try:
            decided = decide(self.state, command, self.now, TABLE)
        except (CommandRefused, CommandStale) as refused:
            reasons = refused.reasons
        else:
            assert decided.events
            self._apply(list(decided.events))
            assert self.state == decided.state
            return
        assert reasons
        assert self.state == before

    @initialize(opened=st.booleans())
    def start(self, opened: bool) -> None:
        if opened:
            self.open()

    @rule()
    def progress(self) -> None:
        """The chair and the agencies doing the right next thing, so that runs get deep."""
        s = self.state
        lead = next((t for t in s.tasks if t.role == "lead"), None)
        if s.status is None:
            self.open()
        elif s.status == "opened":
            self.schedule(0)
        elif s.status == "concluded":
            self._try(reopen())
        elif s.status == "scheduled":
            self.meeting_starts()
            self._try(decision(meeting_id=s.meeting_id))
        elif s.status == "confirmed" or (lead is not None and not is_open(lead.state)):
            self._try(assign())
        elif lead is not None and lead.state == "requested":
            self._try(respond(lead.agency_id, "accepted"))
        elif s.status == "assigned" and lead is not None:
            self._try(intervention(lead.agency_id, first_contact_at=self.now))
        else:
            self._try(conclude())

    @rule()
    def open(self) -> None:
        if self.state.status is None:
            self._apply(
                [
                    sample(
                        SituationOpened,
                        situation_id=SID,
                        district="district_1",
                        originating_agency=ORIGINATOR,
                        opened_at=self.now,
                    )
                ]
            )

    @rule(hours=st.integers(min_value=1, max_value=72))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule()
    def meeting_starts(self) -> None:
        if self.state.meeting_starts_at is not None:
            self.now = max(self.now, self.state.meeting_starts_at)

    @rule(hours=st.integers(min_value=0, max_value=48))
    def schedule(self, hours: int) -> None:
        slot_id = uuid7()
        self.meetings.append(slot_id)
        slot = meeting(slot_id, self.now + timedelta(hours=hours))
        try:
            decided = decide_schedule(self.state, slot, self.now)
        except CommandStale:
            assert self.state.status not in ("opened", "scheduled")
            return
        self._apply(list(decided.events))
        assert self.state == decided.state

    @rule(actor=actors, value=st.sampled_from(["confirmed", "rejected", "returned"]), current=st.booleans())
    def record_decision(self, actor: Actor, value: str, current: bool) -> None:
        meeting_id = self.state.meeting_id if current and self.state.meeting_id else MEETING
        self._try(decision(value, actor=actor, meeting_id=meeting_id))

    @rule(
        actor=actors,
        lead=members,
        assisting=st.lists(st.sampled_from(AGENCIES), max_size=3, unique=True),
        release=st.sampled_from(["filter_3", "filter_4"]),
    )
    def assign_agencies(self, actor: Actor, lead: str, assisting: list[str], release: str) -> None:
        self._try(assign(lead, tuple(a for a in assisting if a != lead), actor, release))

    @rule(agency_id=members, answer=st.sampled_from(ANSWERS), own=st.booleans())
    def answer(self, agency_id: str, answer: str, own: bool) -> None:
        self._try(respond(agency_id, answer, actor=None if own else agency(LEAD)))

    @rule(
        agency_id=members,
        outcome=st.sampled_from(["accepted_services", "refused", "unable_to_locate", "pending"]),
        contact=st.booleans(),
    )
    def intervene(self, agency_id: str, outcome: str, contact: bool) -> None:
        self._try(intervention(agency_id, outcome, self.now if contact else None))

    @rule(actor=actors, code=st.sampled_from(sorted(CONCLUSIONS)))
    def conclude_it(self, actor: Actor, code: str) -> None:
        self._try(conclude(code, actor))

    @rule(actor=actors)
    def reopen_it(self, actor: Actor) -> None:
        self._try(reopen(actor))

    @invariant()
    def legal_state(self) -> None:
        s = self.state
        event(f"reached {s.status}")
        assert s.version == self.applied
        assert (s.status is None) == (s.situation_id is None)
        assert (s.status == "concluded") == (s.conclusion is not None)
        assert (s.meeting_id is None) == (s.status in (None, "opened"))
        if s.status in ("confirmed", "assigned", "intervention"):
            assert s.aer_decision == "confirmed"
            assert s.confirmed_at is not None
        if s.status in (None, "opened", "scheduled", "confirmed"):
            assert s.tasks == ()
        if s.status in ("assigned", "intervention"):
            assert [t.role for t in s.tasks].count("lead") == 1
        if s.status == "intervention":
            assert s.interventions >= 1
        if s.status == "concluded":
            assert all(not is_open(t.state) for t in s.tasks)
        assert s.status not in ("rejected", "returned")  # only ever between two events of a decision
        ids = [t.agency_id for t in s.tasks]
        assert len(ids) == len(set(ids))
        for t in s.tasks:
            assert t.agency_id in TABLE.members
            assert (t.reason is not None) >= (t.state in NEEDS_REASON)


SituationMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_situation_machine = SituationMachine.TestCase
