"""The situation timers (pure): which start, which still apply, what fires."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.base import Actor
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AgencyTask,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationEvent,
    SituationOpened,
    SituationReopened,
    SituationScheduled,
    SlaBreached,
    SlaWarning,
)
from services.convening.situation import SituationState, fold
from services.convening.timers import SlaPolicy, Timer, agenda_timer, applies, fire, timers_to_start
from tests.support.samples import ASSISTING, LEAD, NOW, SITUATION_ID, sample

pytestmark = pytest.mark.unit

POLICY = SlaPolicy()
CONFIRMED = NOW + timedelta(days=3)
ASSIGNED = CONFIRMED + timedelta(minutes=20)
LEAD_ACTOR = Actor(agency_id=LEAD, role="lead_agency")


def history(*more: SituationEvent) -> list[SituationEvent]:
    return [
        sample(SituationOpened),
        sample(SituationScheduled),
        sample(AerDecisionRecorded, decided_at=CONFIRMED),
        sample(AgenciesAssigned, assigned_at=ASSIGNED, lead=AgencyTask(agency_id=LEAD),
               assisting=(AgencyTask(agency_id=ASSISTING),)),
        *more,
    ]


def started(events: list[SituationEvent]) -> tuple[SituationState, dict[str, Timer]]:
    state = fold(events)
    return state, {t.kind: t for t in timers_to_start(events, state, POLICY)}


def test_confirmation_starts_the_24_and_48_hour_timers_and_assignment_the_12_hour_one() -> None:
    _, timers = started(history())
    warning, breach, lead = timers["sla_warning"], timers["sla_breach"], timers["lead_acceptance"]
    assert (warning.due_at, warning.started_at, warning.window_due_at) == (
        CONFIRMED + timedelta(hours=24), CONFIRMED, CONFIRMED + timedelta(hours=48))
    assert (breach.due_at, breach.window_due_at) == ((CONFIRMED + timedelta(hours=48),) * 2)
    assert (lead.due_at, lead.started_at, lead.agency_id) == (
        ASSIGNED + timedelta(hours=12), ASSIGNED, LEAD)
    assert {t.aggregate_id for t in timers.values()} == {SITUATION_ID}
    assert len({t.key for t in timers.values()}) == 3


def test_the_windows_come_from_the_policy() -> None:
    events = history()
    state = fold(events)
    policy = SlaPolicy(lead_acceptance=timedelta(hours=6), warning=timedelta(hours=20),
                       breach=timedelta(hours=30))
    due = {t.kind: t.due_at - (t.started_at or NOW) for t in timers_to_start(events, state, policy)}
    assert due == {"lead_acceptance": timedelta(hours=6), "sla_warning": timedelta(hours=20),
                   "sla_breach": timedelta(hours=30)}


@pytest.mark.parametrize("decision", ["rejected", "returned"])
def test_a_situation_not_confirmed_starts_no_timer(decision: str) -> None:
    events: list[SituationEvent] = [sample(SituationOpened), sample(SituationScheduled),
                                    sample(AerDecisionRecorded, decision=decision)]
    assert timers_to_start(events, fold(events), POLICY) == []


def test_an_assignment_whose_lead_already_accepted_starts_no_lead_timer() -> None:
    events = history()
    state = fold(events)
    reassigned = sample(AgenciesAssigned, assigned_at=ASSIGNED + timedelta(hours=1),
                        lead=AgencyTask(agency_id=LEAD, state="accepted"), assisting=())
    assert timers_to_start([reassigned], state, POLICY) == []


def test_the_same_timer_started_twice_has_one_key() -> None:
    events = history()
    state = fold(events)
    assert timers_to_start(events, state, POLICY) == timers_to_start(events, state, POLICY)


def test_a_reconfirmed_situation_gets_fresh_timers() -> None:
    events = history(
        sample(SituationConcluded, conclusion="still_aer_other"),
        sample(SituationReopened, reopened_at=CONFIRMED + timedelta(days=9)),
        sample(SituationScheduled, scheduled_at=CONFIRMED + timedelta(days=9)),
        sample(AerDecisionRecorded, decided_at=CONFIRMED + timedelta(days=10)),
    )
    first = {t.key for t in timers_to_start(events[:4], fold(events[:4]), POLICY)}
    again = {t.key for t in timers_to_start(events[-1:], fold(events), POLICY)}
    assert again
    assert not first & again


def test_all_timers_apply_while_nobody_acted_and_fire_their_events() -> None:
    state, timers = started(history())
    assert all(applies(t, state) for t in timers.values())
    now = CONFIRMED + timedelta(hours=30)
    warning = fire(timers["sla_warning"], state, now)
    assert isinstance(warning, SlaWarning)
    assert (warning.sla, warning.agency_id, warning.district, warning.warned_at) == (
        "first_contact", LEAD, "district_1", now)
    assert (warning.started_at, warning.due_at) == (CONFIRMED, CONFIRMED + timedelta(hours=48))
    breach = fire(timers["sla_breach"], state, now)
    assert isinstance(breach, SlaBreached)
    assert (breach.sla, breach.breached_at) == ("first_contact", now)
    overdue = fire(timers["lead_acceptance"], state, now)
    assert isinstance(overdue, SlaBreached)
    assert (overdue.sla, overdue.agency_id, overdue.due_at) == (
        "lead_acceptance", LEAD, ASSIGNED + timedelta(hours=12))


def test_the_lead_accepting_ends_only_the_lead_timer() -> None:
    _, timers = started(history())
    state = fold(history(sample(AssignmentResponded, responded_at=ASSIGNED, responded_by=LEAD_ACTOR)))
    assert not applies(timers["lead_acceptance"], state)
    assert fire(timers["lead_acceptance"], state, ASSIGNED) is None
    assert applies(timers["sla_warning"], state)
    assert applies(timers["sla_breach"], state)


def test_an_assisting_agency_accepting_does_not_end_the_lead_timer() -> None:
    _, timers = started(history())
    state = fold(history(sample(AssignmentResponded, agency_id=ASSISTING, responded_at=ASSIGNED,
                                responded_by=Actor(agency_id=ASSISTING, role="assisting_agency"))))
    assert applies(timers["lead_acceptance"], state)


def test_a_first_contact_ends_the_24_and_48_hour_timers() -> None:
    _, timers = started(history())
    state = fold(history(
        sample(AssignmentResponded, responded_at=ASSIGNED, responded_by=LEAD_ACTOR),
        sample(InterventionRecorded, first_contact_at=CONFIRMED + timedelta(hours=5))))
    assert not applies(timers["sla_warning"], state)
    assert fire(timers["sla_breach"], state, CONFIRMED + timedelta(hours=48)) is None


def test_an_intervention_without_contact_keeps_the_clock_running() -> None:
    _, timers = started(history())
    state = fold(history(
        sample(AssignmentResponded, responded_at=ASSIGNED, responded_by=LEAD_ACTOR),
        sample(InterventionRecorded, first_contact_at=None, outcome="unable_to_locate")))
    assert applies(timers["sla_warning"], state)


def test_a_concluded_situation_has_no_live_timer() -> None:
    _, timers = started(history())
    state = fold(history(sample(SituationConcluded, conclusion="still_aer_other")))
    assert not any(applies(t, state) for t in timers.values())
    assert all(fire(t, state, CONFIRMED + timedelta(days=3)) is None for t in timers.values())


def test_the_agenda_timer_is_one_per_meeting() -> None:
    timer = agenda_timer(SITUATION_ID, NOW)
    assert timer == agenda_timer(SITUATION_ID, NOW)
    assert (timer.kind, timer.due_at) == ("agenda", NOW)
    assert not applies(timer, fold(history()))
