"""When a command is settled, and what the person is told (pure).

The gateway publishes a command and waits for the records it caused (their ``ce_causationid`` is
the command's ``ce_id``): convening's facts or its ``CommandRejected``, intake's event-request
facts or its ``EventRequestCommandRefused``. :func:`settle` says whether those records settle the
command; :func:`refusal_status` maps a refusal's reasons to an HTTP status. Neither decides
anything about authority: the reasons are convening's and intake's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.commands import (
    AssignAgencies,
    ConcludeSituation,
    RecordAerDecision,
    RecordIntervention,
    ReopenSituation,
    RespondToAssignment,
)
from schemas.event_requests import (
    DeclineEventRequest,
    EventRequestCommandRefused,
    EventRequestDeclined,
    EventRequestScheduled,
    EventRequestWithdrawn,
    ScheduleEventRequest,
    WithdrawEventRequest,
)
from schemas.meetings import CommandRejected
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationReopened,
)

MAIN_FACT: Mapping[str, str] = {
    RecordAerDecision.ce_type: AerDecisionRecorded.ce_type,
    AssignAgencies.ce_type: AgenciesAssigned.ce_type,
    RespondToAssignment.ce_type: AssignmentResponded.ce_type,
    RecordIntervention.ce_type: InterventionRecorded.ce_type,
    ConcludeSituation.ce_type: SituationConcluded.ce_type,
    ReopenSituation.ce_type: SituationReopened.ce_type,
    ScheduleEventRequest.ce_type: EventRequestScheduled.ce_type,
    DeclineEventRequest.ce_type: EventRequestDeclined.ce_type,
    WithdrawEventRequest.ce_type: EventRequestWithdrawn.ce_type,
}
"""The fact that says a command was applied."""
REFUSALS = frozenset({CommandRejected.ce_type, EventRequestCommandRefused.ce_type})
OUTCOME_TYPES = frozenset({*MAIN_FACT.values(), *REFUSALS})
"""Record types that can settle a command (others caused by it are kept but settle nothing)."""
FILTER2_ENDS = frozenset({"rejected", "returned"})
"""AER decisions after which convening also concludes the situation (the answer waits for it)."""

AUTHORITY = frozenset({"not_table_chair", "not_own_assignment", "not_own_invitation",
                       "actor_not_cmb", "actor_not_district_cmb"})
"""Reasons that say the actor may not do this: 403."""
CONFLICT = frozenset({
    "unknown_situation", "situation_concluded", "wrong_state", "wrong_meeting",
    "meeting_not_started", "illegal_task_transition", "task_not_accepted", "no_intervention",
    "not_schedulable", "unknown_meeting", "unknown_invitation", "meeting_started",
    "request_unknown", "request_already_decided", "request_rejected", "request_expired",
})
"""Reasons that say the command does not fit the current state: 409. Any other reason is a rule
the command's content broke: 422."""


@dataclass(frozen=True, slots=True)
class Caused:
    """A record caused by a command: its type, id and JSON body."""

    ce_type: str
    ce_id: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Accepted:
    """The command was applied: every fact it caused so far, in order."""

    facts: tuple[Caused, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """The command was refused, with every reason and the actor named."""

    record: Caused

    @property
    def reasons(self) -> list[dict[str, Any]]:
        """The refusal's reasons (code, field, message)."""
        reasons = self.record.body.get("reasons", [])
        return [dict(r) for r in reasons] if isinstance(reasons, list) else []

    @property
    def actor(self) -> dict[str, Any] | None:
        """Who was refused: convening names the actor; intake names the agency."""
        actor = self.record.body.get("actor")
        if isinstance(actor, dict):
            return dict(actor)
        agency = self.record.body.get("actor_agency_id")
        return {"agency_id": agency} if isinstance(agency, str) else None


Outcome = Accepted | Refused


def settle(command_type: str, caused: Sequence[Caused]) -> Outcome | None:
    """The command's outcome from the records it caused so far, or ``None`` while pending."""
    for record in caused:
        if record.ce_type in REFUSALS:
            return Refused(record)
    main = MAIN_FACT.get(command_type)
    found = next((r for r in caused if r.ce_type == main), None)
    if found is None:
        return None
    if found.ce_type == AerDecisionRecorded.ce_type and found.body.get("decision") in FILTER2_ENDS \
            and not any(r.ce_type == SituationConcluded.ce_type for r in caused):
        return None
    return Accepted(tuple(caused))


def refusal_status(codes: Iterable[str]) -> int:
    """403 when the actor may not, 409 when the state does not fit, else 422."""
    found = set(codes)
    if found & AUTHORITY:
        return 403
    if found & CONFLICT:
        return 409
    return 422
