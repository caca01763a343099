"""The situations stream: a situation's whole life, keyed by situation id, kept forever.

Nothing here identifies a person: analysts replay this topic. Identity travels only sealed, on
``commande.disclosures.v1``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, Strict, model_validator

from schemas.base import (
    TASK_STATES_NEEDING_REASON,
    Actor,
    AerDecision,
    AgencyId,
    Code,
    Contract,
    Event,
    IdentityRelease,
    Priority,
    ReferralRef,
    ShortText,
    SituationKeyed,
    TaskState,
    UtcDatetime,
    Uuid7,
    require_reason_when,
)
from schemas.referrals import AerAttestation, SituationSummary
from schemas.topics import SITUATIONS

InterventionOutcome = Literal[
    "accepted_services", "accepted_information", "accepted_referral", "refused",
    "unable_to_locate", "pending",
]
SlaKind = Literal["first_contact", "lead_acceptance"]


class SituationEvent(SituationKeyed, Event):
    """An event of the situations stream (keyed and ``ce_subject``-ed by situation id)."""

    topic = SITUATIONS


class SituationOpened(SituationEvent):
    """Intake accepted a referral and opened a de-identified situation for its district table.

    Attributes:
        originating_agency: the agency that referred it.
        referral_ref: that agency's reference (an opaque token).
        district: district code the situation is routed to.
        priority: routine or urgent.
        opened_at: when.
        summary: the de-identified block.
        aer: the originator's AER attestation.
    """

    ce_type = "ca.halton.commande.situation.opened.v1"

    originating_agency: AgencyId
    referral_ref: ReferralRef
    district: Code
    priority: Priority
    opened_at: UtcDatetime
    summary: SituationSummary
    aer: AerAttestation


class SituationScheduled(SituationEvent):
    """Convening placed the situation on a meeting's agenda.

    Attributes:
        meeting_id: the meeting.
        district: the district table.
        meeting_starts_at: when the meeting starts.
        slot: ``regular`` cadence or an ``ad_hoc`` (urgent) meeting.
        scheduled_at: when it was placed.
    """

    ce_type = "ca.halton.commande.situation.scheduled.v1"

    meeting_id: Uuid7
    district: Code
    meeting_starts_at: UtcDatetime
    slot: Literal["regular", "ad_hoc"]
    scheduled_at: UtcDatetime


class AerDecisionRecorded(SituationEvent):
    """The table's Filter 2 decision: AER confirmed, rejected (not AER) or returned.

    Attributes:
        meeting_id: the meeting where it was decided.
        decision: confirmed, rejected or returned.
        decided_at: when.
        decided_by: the chair who recorded it.
        note: optional de-identified note.
    """

    ce_type = "ca.halton.commande.situation.aer_decision_recorded.v1"

    meeting_id: Uuid7
    decision: AerDecision
    decided_at: UtcDatetime
    decided_by: Actor
    note: ShortText | None = None


class AgencyTask(Contract):
    """One agency's part in a situation, as a FHIR referral task state.

    Attributes:
        agency_id: the agency.
        state: its task state; a reason is required for rejected, cancelled, on-hold and failed.
        reason: why, for those states.
    """

    model_config = ConfigDict(
        json_schema_extra=require_reason_when("state", TASK_STATES_NEEDING_REASON)
    )

    agency_id: AgencyId
    state: TaskState = "requested"
    reason: ShortText | None = None

    @model_validator(mode="after")
    def _reason_when_needed(self) -> AgencyTask:
        if self.state in TASK_STATES_NEEDING_REASON and self.reason is None:
            raise ValueError(f"a reason is required when the task state is {self.state}")
        return self


class AgenciesAssigned(SituationEvent):
    """Filter 3: the table named the lead agency (exactly one) and assisting agencies.

    Attributes:
        meeting_id: the meeting where it was decided.
        lead: the lead agency and its task.
        assisting: the assisting agencies and their tasks (no repeats, never the lead).
        identity_release: whether identity is released now (Filter 3) or at Filter 4.
        assigned_at: when.
        assigned_by: the chair who recorded it.
    """

    ce_type = "ca.halton.commande.situation.agencies_assigned.v1"

    meeting_id: Uuid7
    lead: AgencyTask
    assisting: tuple[AgencyTask, ...] = Field(default=(), max_length=30)
    identity_release: IdentityRelease
    assigned_at: UtcDatetime
    assigned_by: Actor

    @model_validator(mode="after")
    def _distinct_agencies(self) -> AgenciesAssigned:
        ids = [self.lead.agency_id, *(task.agency_id for task in self.assisting)]
        if len(ids) != len(set(ids)):
            raise ValueError("an agency may appear once, as lead or as assisting")
        return self


class AssignmentResponded(SituationEvent):
    """An assigned agency moved its task (accepted, rejected, started, put on hold, ...).

    Attributes:
        agency_id: the agency.
        from_state: its previous task state.
        to_state: its new task state (a reason is required for rejected, cancelled,
            on-hold, failed).
        reason: why, where required.
        responded_at: when.
        responded_by: who answered for the agency.
    """

    ce_type = "ca.halton.commande.situation.assignment_responded.v1"
    model_config = ConfigDict(
        json_schema_extra=require_reason_when("to_state", TASK_STATES_NEEDING_REASON)
    )

    agency_id: AgencyId
    from_state: TaskState
    to_state: TaskState
    reason: ShortText | None = None
    responded_at: UtcDatetime
    responded_by: Actor

    @model_validator(mode="after")
    def _reason_when_needed(self) -> AssignmentResponded:
        if self.to_state in TASK_STATES_NEEDING_REASON and self.reason is None:
            raise ValueError(f"a reason is required when the task state is {self.to_state}")
        return self


class InterventionRecorded(SituationEvent):
    """Filter 4: the outcome of the intervention ("door knock").

    Attributes:
        agency_id: the agency that made contact (usually the lead).
        first_contact_at: when first contact was made, if it was.
        outcome: what the person accepted or refused.
        services_mobilized: service-sector codes mobilized.
        recorded_at: when it was recorded.
        recorded_by: who recorded it.
    """

    ce_type = "ca.halton.commande.situation.intervention_recorded.v1"

    agency_id: AgencyId
    first_contact_at: UtcDatetime | None = None
    outcome: InterventionOutcome
    services_mobilized: tuple[Code, ...] = Field(default=(), max_length=20)
    recorded_at: UtcDatetime
    recorded_by: Actor


class SituationConcluded(SituationEvent):
    """The situation is closed with a conclusion code (reference data, plus ``withdrawn``).

    Attributes:
        conclusion: conclusion code.
        concluded_at: when.
        concluded_by: the chair, or ``None`` when concluded by the system (withdrawal).
        meeting_id: the meeting where it was concluded, if any.
    """

    ce_type = "ca.halton.commande.situation.concluded.v1"

    conclusion: Code
    concluded_at: UtcDatetime
    concluded_by: Actor | None = None
    meeting_id: Uuid7 | None = None


class SituationReopened(SituationEvent):
    """A concluded situation is open again (new information, risk rose again).

    Attributes:
        reason: a reason code.
        reopened_at: when.
        reopened_by: who.
    """

    ce_type = "ca.halton.commande.situation.reopened.v1"

    reason: Code
    reopened_at: UtcDatetime
    reopened_by: Actor


class SlaWarning(SituationEvent):
    """A 24/48-hour window is about to pass (sent at the warning mark, 24 h by default).

    Attributes:
        sla: which window: first contact after AER confirmation, or lead acceptance.
        agency_id: the agency expected to act, if one is.
        district: the district whose CMB is told.
        started_at: when the window opened.
        due_at: when it closes.
        warned_at: when this warning was raised.
    """

    ce_type = "ca.halton.commande.situation.sla_warning.v1"

    sla: SlaKind
    agency_id: AgencyId | None = None
    district: Code
    started_at: UtcDatetime
    due_at: UtcDatetime
    warned_at: UtcDatetime


class SlaBreached(SituationEvent):
    """A 24/48-hour window passed without the expected action; escalate to the district's CMB.

    Attributes:
        sla: which window.
        agency_id: the agency expected to act, if one is.
        district: the district whose CMB is told.
        started_at: when the window opened.
        due_at: when it closed.
        breached_at: when the breach was detected.
    """

    ce_type = "ca.halton.commande.situation.sla_breached.v1"

    sla: SlaKind
    agency_id: AgencyId | None = None
    district: Code
    started_at: UtcDatetime
    due_at: UtcDatetime
    breached_at: UtcDatetime


class IdentityPurged(SituationEvent):
    """Intake destroyed the situation's identified data irreversibly.

    Attributes:
        purged_at: when.
        reason: ``retention_expired``, ``rejected_not_aer``, ``returned``, ``withdrawn``, or
            ``inactive`` (an open situation with no activity for the maximum retention).
        records_purged: how many vault records were destroyed.
        district: the situation's district table (whose chair is told of an ``inactive`` purge);
            absent on records published before it was added.
    """

    ce_type = "ca.halton.commande.situation.identity_purged.v1"

    purged_at: UtcDatetime
    reason: Literal["retention_expired", "rejected_not_aer", "returned", "withdrawn", "inactive"]
    records_purged: Annotated[int, Strict(), Field(ge=0)]
    district: Code | None = None
