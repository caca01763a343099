"""A situation's state, folded from its events (pure): ``evolve(state, event) -> state``.

The state machine's transitions are drawn in :mod:`services.convening.situation`; :mod:`.decide`
says which command produces which events, this module how each event changes the state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from schemas.base import AerDecision, AgencyId, Priority, TaskState, UtcDatetime
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationEvent,
    SituationOpened,
    SituationReopened,
    SituationScheduled,
)
from services.convening.refusals import reason
from services.convening.tasks import can_move, is_open
from services.runtime.decision import CommandStale

Status = Literal[
    "opened",
    "scheduled",
    "confirmed",
    "assigned",
    "intervention",
    "rejected",
    "returned",
    "concluded",
]
FILTER2_CONCLUSIONS = {"rejected": "rejected_not_aer", "returned": "returned_to_originator"}
CONTACT_OUTCOMES = frozenset({"accepted_services", "accepted_information", "accepted_referral", "refused"})
"""Outcomes that mean the person was reached: they need a first-contact time."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Task(_Frozen):
    """An assigned agency's task in the situation."""

    agency_id: AgencyId
    role: Literal["lead", "assisting"]
    state: TaskState
    reason: str | None = None


class SituationState(_Frozen):
    """What convening knows of one situation, folded from its events."""

    situation_id: UUID | None = None
    status: Status | None = None
    """``None`` before ``SituationOpened``."""
    district: str | None = None
    originating_agency: str | None = None
    priority: Priority | None = None
    opened_at: UtcDatetime | None = None
    meeting_id: UUID | None = None
    meeting_starts_at: UtcDatetime | None = None
    aer_decision: AerDecision | None = None
    confirmed_at: UtcDatetime | None = None
    tasks: tuple[Task, ...] = ()
    first_contact_at: UtcDatetime | None = None
    interventions: int = 0
    conclusion: str | None = None
    version: int = 0
    """How many events have been folded in."""

    def task(self, agency_id: str) -> Task | None:
        """The task of ``agency_id``, if it is assigned."""
        return next((t for t in self.tasks if t.agency_id == agency_id), None)


INITIAL = SituationState()

def evolve(state: SituationState, event: SituationEvent) -> SituationState:
    """Fold one event into the state.

    Raises:
        CommandStale: the event does not fit the state (a corrupt or out-of-order stream).
    """
    s = state
    match event:
        case SituationOpened():
            _expect(event, s, None)
            new = s.model_copy(
                update={
                    "situation_id": event.situation_id,
                    "status": "opened",
                    "district": event.district,
                    "originating_agency": event.originating_agency,
                    "priority": event.priority,
                    "opened_at": event.opened_at,
                }
            )
        case SituationScheduled():
            _expect(event, s, "opened", "scheduled")
            new = s.model_copy(
                update={
                    "status": "scheduled",
                    "meeting_id": event.meeting_id,
                    "meeting_starts_at": event.meeting_starts_at,
                }
            )
        case AerDecisionRecorded():
            _expect(event, s, "scheduled")
            status: Status = "confirmed" if event.decision == "confirmed" else event.decision
            new = s.model_copy(
                update={
                    "status": status,
                    "aer_decision": event.decision,
                    "confirmed_at": event.decided_at if status == "confirmed" else None,
                }
            )
        case AgenciesAssigned():
            _expect(event, s, "confirmed", "assigned")
            tasks = (
                Task(
                    agency_id=event.lead.agency_id,
                    role="lead",
                    state=event.lead.state,
                    reason=event.lead.reason,
                ),
                *(
                    Task(agency_id=t.agency_id, role="assisting", state=t.state, reason=t.reason)
                    for t in event.assisting
                ),
            )
            kept = tuple(t for t in s.tasks if t.agency_id not in {n.agency_id for n in tasks})
            if any(is_open(t.state) for t in kept):
                raise CommandStale(reason("event_out_of_order", "an open task was dropped"))
            new = s.model_copy(update={"status": "assigned", "tasks": tasks})
        case AssignmentResponded():
            _expect(event, s, "assigned", "intervention")
            task = s.task(event.agency_id)
            if task is None or task.state != event.from_state:
                raise CommandStale(reason("event_out_of_order", "task state does not match"))
            if not can_move(task.state, event.to_state):
                raise CommandStale(reason("event_out_of_order", "illegal task transition"))
            moved = task.model_copy(update={"state": event.to_state, "reason": event.reason})
            new = s.model_copy(update={"tasks": tuple(moved if t is task else t for t in s.tasks)})
        case InterventionRecorded():
            _expect(event, s, "assigned", "intervention")
            first = s.first_contact_at
            if event.first_contact_at is not None:
                first = min(first or event.first_contact_at, event.first_contact_at)
            new = s.model_copy(
                update={
                    "status": "intervention",
                    "first_contact_at": first,
                    "interventions": s.interventions + 1,
                }
            )
        case SituationConcluded():
            _expect(
                event,
                s,
                "opened",
                "scheduled",
                "confirmed",
                "assigned",
                "intervention",
                "rejected",
                "returned",
            )
            new = s.model_copy(update={"status": "concluded", "conclusion": event.conclusion})
        case SituationReopened():
            _expect(event, s, "concluded")
            new = s.model_copy(
                update={
                    "status": "opened",
                    "meeting_id": None,
                    "meeting_starts_at": None,
                    "aer_decision": None,
                    "confirmed_at": None,
                    "tasks": (),
                    "first_contact_at": None,
                    "interventions": 0,
                    "conclusion": None,
                }
            )
        case _:
            new = s  # SLA and purge events do not change the state machine
    return new.model_copy(update={"version": s.version + 1})


def fold(events: Sequence[SituationEvent], state: SituationState = INITIAL) -> SituationState:
    """Fold ``events`` in order."""
    for event in events:
        state = evolve(state, event)
    return state


def _expect(event: SituationEvent, state: SituationState, *allowed: Status | None) -> None:
    if state.status is not None and event.situation_id != state.situation_id:
        raise CommandStale(reason("event_out_of_order", "event of another situation"))
    if state.status not in allowed:
        raise CommandStale(
            reason(
                "event_out_of_order",
                f"{type(event).__name__} does not apply to a situation that is {state.status}",
            )
        )
