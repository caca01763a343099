"""What a command produces (pure): ``decide(state, command, now, table) -> Decided``.

See :mod:`services.convening.situation` for the state machine and who may do what; the state and
how events change it live in :mod:`services.convening.evolve`. A decision is the runtime's one
shape (ADR 0012): :class:`~services.runtime.decision.Decided` (the state after the events, folded
with :func:`~services.convening.evolve.fold`, and the events), or a refusal raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from directory.model import Directory
from schemas.base import Actor, Command, IdentityRelease
from schemas.commands import (
    NOTE,
    REASON,
    AssignAgencies,
    ConcludeSituation,
    RecordAerDecision,
    RecordIntervention,
    ReopenSituation,
    RespondToAssignment,
)
from schemas.free_text import FreeText, check_text
from schemas.reference import Reference
from schemas.reference.calendar import local_date
from schemas.situations import (
    AerDecisionRecorded,
    AgenciesAssigned,
    AgencyTask,
    AssignmentResponded,
    InterventionRecorded,
    SituationConcluded,
    SituationEvent,
    SituationReopened,
    SituationScheduled,
)
from services.convening.evolve import (
    CONTACT_OUTCOMES,
    FILTER2_CONCLUSIONS,
    SituationState,
    Status,
    Task,
    fold,
)
from services.convening.model import MeetingKind, MeetingSlot
from services.convening.refusals import reason
from services.convening.tasks import WORKING, can_move, is_open
from services.runtime.decision import CommandRefused, CommandStale, Decided


@dataclass(frozen=True, slots=True)
class TableContext:
    """What the directory says about the situation's table when a command arrives."""

    district: str
    chair_agency_id: str
    """The district CMB's agency id: its Community Engagement Team chairs the table."""
    members: frozenset[str]
    """Agency ids of the table's active members (who may be assigned)."""
    identity_release: IdentityRelease
    conclusions: frozenset[str]
    """Conclusion codes from reference data."""


NO_TABLE = TableContext(district="", chair_agency_id="", members=frozenset(),
                        identity_release="filter_4", conclusions=frozenset())
"""The context of a situation convening does not know (its command is refused as stale)."""


def table_context(directory: Directory, reference: Reference, district: str,
                  now: datetime) -> TableContext:
    """What the state machine needs to know of ``district``'s table at ``now``.

    Raises:
        CommandRefused: the district has no table or no active CMB (nobody can chair).
    """
    on = local_date(now)
    table = directory.table(district)
    cmb = directory.cmb(district, on)
    if table is None or cmb is None:
        raise CommandRefused(reason(
            "table_unavailable",
            f"the {district} table has no active chair in directory version {directory.version}"))
    return TableContext(
        district=district,
        chair_agency_id=cmb.agency_id,
        members=frozenset(o.agency_id for o in directory.members(district, on)),
        identity_release=table.identity_release_stage,
        conclusions=reference.codes("conclusions"),
    )



SituationCommand = (
    RecordAerDecision
    | AssignAgencies
    | RespondToAssignment
    | RecordIntervention
    | ConcludeSituation
    | ReopenSituation
)



# -- scheduling ------------------------------------------------------------------------------


def decide_schedule(state: SituationState, meeting: MeetingSlot,
                    now: datetime) -> Decided[SituationState, SituationEvent]:
    """Place an opened situation (or move a scheduled one) on ``meeting``.

    Raises:
        CommandStale: the situation is not waiting for a meeting, or is already on this one.
    """
    if state.status not in ("opened", "scheduled") or state.meeting_id == meeting.meeting_id:
        raise CommandStale(
            reason("not_schedulable", f"a situation that is {state.status} cannot be scheduled")
        )
    assert state.situation_id is not None
    return _decided(state, [
        SituationScheduled(
            situation_id=state.situation_id,
            meeting_id=meeting.meeting_id,
            district=meeting.district,
            meeting_starts_at=meeting.starts_at,
            slot="ad_hoc" if meeting.kind is MeetingKind.ADHOC else "regular",
            scheduled_at=now,
        )
    ])


# -- decide ----------------------------------------------------------------------------------


def decide(
    state: SituationState, command: SituationCommand, now: datetime, table: TableContext
) -> Decided[SituationState, SituationEvent]:
    """The events ``command`` produces from ``state`` at ``now``, and the state after them.

    Raises:
        CommandRefused: the actor may not do this, or a business rule forbids it.
        CommandStale: the command does not fit the situation's current state.
    """
    return _decided(state, _events(state, command, now, table))


def _decided(state: SituationState,
             events: list[SituationEvent]) -> Decided[SituationState, SituationEvent]:
    return Decided(fold(events, state), tuple(events))


def _events(
    state: SituationState, command: SituationCommand, now: datetime, table: TableContext
) -> list[SituationEvent]:
    if state.status is None or state.situation_id != command.situation_id:
        raise CommandStale(reason("unknown_situation", "no open situation has this id", "situation_id"))
    if state.status in ("concluded", "rejected", "returned") and not isinstance(command, ReopenSituation):
        raise CommandStale(reason("situation_concluded", f"the situation is {state.status}; reopen it first"))
    match command:
        case RecordAerDecision():
            return _record_aer_decision(state, command, now, table)
        case AssignAgencies():
            return _assign(state, command, now, table)
        case RespondToAssignment():
            return _respond(state, command, now)
        case RecordIntervention():
            return _intervene(state, command, now)
        case ConcludeSituation():
            return _conclude(state, command, now, table)
        case ReopenSituation():
            return _reopen(state, command, now, table)


def _require_chair(command: Command, table: TableContext) -> None:
    actor = command.actor
    if actor.role != "table_chair" or actor.agency_id != table.chair_agency_id:
        raise CommandRefused(
            reason(
                "not_table_chair",
                f"only the {table.district} table chair ({table.chair_agency_id} acting as "
                "table_chair) may do this",
                "actor",
            )
        )


def _require_de_identified(text: str | None, spec: FreeText) -> None:
    """Refuse free text that identifies someone: every reason names the field and the kind of
    identifier (never the text), so the sender can reword it."""
    found = check_text(text, spec) if text is not None else []
    if found:
        raise CommandRefused(*found)


def _require_status(state: SituationState, *allowed: Status) -> None:
    if state.status not in allowed:
        raise CommandStale(
            reason(
                "wrong_state",
                f"the situation is {state.status}; this needs it to be {' or '.join(allowed)}",
            )
        )


def _record_aer_decision(
    s: SituationState, c: RecordAerDecision, now: datetime, table: TableContext
) -> list[SituationEvent]:
    _require_chair(c, table)
    _require_status(s, "scheduled")
    problems = []
    if c.meeting_id != s.meeting_id:
        problems.append(reason("wrong_meeting", f"the situation is on meeting {s.meeting_id}", "meeting_id"))
    elif s.meeting_starts_at is not None and now < s.meeting_starts_at:
        problems.append(reason("meeting_not_started", "a decision is recorded once the meeting has started"))
    if problems:
        raise CommandStale(*problems)
    _require_de_identified(c.note, NOTE)
    assert s.situation_id is not None
    events: list[SituationEvent] = [
        AerDecisionRecorded(
            situation_id=s.situation_id,
            meeting_id=c.meeting_id,
            decision=c.decision,
            decided_at=now,
            decided_by=c.actor,
            note=c.note,
        )
    ]
    if c.decision in FILTER2_CONCLUSIONS:
        events.append(
            SituationConcluded(
                situation_id=s.situation_id,
                conclusion=FILTER2_CONCLUSIONS[c.decision],
                concluded_at=now,
                concluded_by=c.actor,
                meeting_id=c.meeting_id,
            )
        )
    return events


def _assign(s: SituationState, c: AssignAgencies, now: datetime, table: TableContext) -> list[SituationEvent]:
    _require_chair(c, table)
    _require_status(s, "confirmed", "assigned")
    problems = []
    if c.identity_release != table.identity_release:
        problems.append(
            reason(
                "identity_release_mismatch",
                f"the {table.district} table releases identity at {table.identity_release}",
                "identity_release",
            )
        )
    for field, agency in (("lead", c.lead), *((f"assisting.{i}", a) for i, a in enumerate(c.assisting))):
        if agency not in table.members:
            problems.append(
                reason(
                    "agency_not_table_member",
                    f"{agency} is not an active member of the {table.district} table",
                    field,
                )
            )
    if problems:
        raise CommandRefused(*problems)
    assert s.situation_id is not None
    wanted = {c.lead, *c.assisting}
    events: list[SituationEvent] = [
        _cancel(s, t, "no longer assigned by the table", now, c.actor)
        for t in s.tasks
        if t.agency_id not in wanted and is_open(t.state)
    ]

    def task(agency: str) -> AgencyTask:
        known = s.task(agency)
        if known is not None and is_open(known.state):
            return AgencyTask(agency_id=agency, state=known.state, reason=known.reason)
        return AgencyTask(agency_id=agency)

    events.append(
        AgenciesAssigned(
            situation_id=s.situation_id,
            meeting_id=c.meeting_id,
            lead=task(c.lead),
            assisting=tuple(task(a) for a in c.assisting),
            identity_release=c.identity_release,
            assigned_at=now,
            assigned_by=c.actor,
        )
    )
    return events


def _own_task(s: SituationState, actor: Actor, agency_id: str) -> Task:
    if actor.agency_id != agency_id:
        raise CommandRefused(reason("not_own_assignment", "an agency may act only for itself", "agency_id"))
    _require_status(s, "assigned", "intervention")
    task = s.task(agency_id)
    if task is None:
        raise CommandRefused(
            reason("not_assigned", f"{agency_id} is not assigned to this situation", "agency_id")
        )
    return task


def _respond(s: SituationState, c: RespondToAssignment, now: datetime) -> list[SituationEvent]:
    task = _own_task(s, c.actor, c.agency_id)
    if not can_move(task.state, c.answer):
        raise CommandStale(
            reason(
                "illegal_task_transition",
                f"the task is {task.state}; it cannot become {c.answer}",
                "answer",
            )
        )
    _require_de_identified(c.reason, REASON)
    assert s.situation_id is not None
    return [
        AssignmentResponded(
            situation_id=s.situation_id,
            agency_id=c.agency_id,
            from_state=task.state,
            to_state=c.answer,
            reason=c.reason,
            responded_at=now,
            responded_by=c.actor,
        )
    ]


def _intervene(s: SituationState, c: RecordIntervention, now: datetime) -> list[SituationEvent]:
    task = _own_task(s, c.actor, c.agency_id)
    if task.state not in WORKING:
        raise CommandStale(
            reason("task_not_accepted", f"the task is {task.state}; accept it first", "agency_id")
        )
    problems = []
    if c.first_contact_at is not None and c.first_contact_at > now:
        problems.append(
            reason("first_contact_in_future", "first contact cannot be later than now", "first_contact_at")
        )
    if c.first_contact_at is None and c.outcome in CONTACT_OUTCOMES:
        problems.append(
            reason("first_contact_missing", f"outcome {c.outcome} needs first_contact_at", "first_contact_at")
        )
    if problems:
        raise CommandRefused(*problems)
    assert s.situation_id is not None
    return [
        InterventionRecorded(
            situation_id=s.situation_id,
            agency_id=c.agency_id,
            first_contact_at=c.first_contact_at,
            outcome=c.outcome,
            services_mobilized=c.services_mobilized,
            recorded_at=now,
            recorded_by=c.actor,
        )
    ]


def _conclude(
    s: SituationState, c: ConcludeSituation, now: datetime, table: TableContext
) -> list[SituationEvent]:
    _require_chair(c, table)
    _require_status(s, "confirmed", "assigned", "intervention")
    if c.conclusion not in table.conclusions or c.conclusion in FILTER2_CONCLUSIONS.values():
        raise CommandRefused(
            reason(
                "unknown_conclusion",
                f"{c.conclusion} is not a conclusion the chair may record after AER confirmation",
                "conclusion",
            )
        )
    if c.conclusion.startswith("risk_lowered") and s.status != "intervention":
        raise CommandStale(
            reason("no_intervention", "risk lowered needs a recorded intervention", "conclusion")
        )
    assert s.situation_id is not None
    events: list[SituationEvent] = [
        _cancel(s, t, "situation concluded", now, c.actor) for t in s.tasks if is_open(t.state)
    ]
    events.append(
        SituationConcluded(
            situation_id=s.situation_id,
            conclusion=c.conclusion,
            concluded_at=now,
            concluded_by=c.actor,
            meeting_id=c.meeting_id,
        )
    )
    return events


def _reopen(
    s: SituationState, c: ReopenSituation, now: datetime, table: TableContext
) -> list[SituationEvent]:
    _require_chair(c, table)
    _require_status(s, "concluded")
    if s.conclusion == "withdrawn":
        raise CommandRefused(
            reason("withdrawn", "a withdrawn referral is not reopened: the agency refers again")
        )
    assert s.situation_id is not None
    return [
        SituationReopened(situation_id=s.situation_id, reason=c.reason, reopened_at=now, reopened_by=c.actor)
    ]


def _cancel(s: SituationState, task: Task, why: str, now: datetime, actor: Actor) -> AssignmentResponded:
    assert s.situation_id is not None
    return AssignmentResponded(
        situation_id=s.situation_id,
        agency_id=task.agency_id,
        from_state=task.state,
        to_state="cancelled",
        reason=why,
        responded_at=now,
        responded_by=actor,
    )
