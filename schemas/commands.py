"""Commands from the table chair and agencies to convening (topic ``commande.table-actions.v1``).

A command is a request: convening checks it against the situation's state machine and the table
roster, then publishes the fact or a ``CommandRejected`` with reasons.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from schemas.base import (
    TASK_STATES_NEEDING_REASON,
    AerDecision,
    AgencyId,
    Code,
    Command,
    IdentityRelease,
    ShortText,
    SituationKeyed,
    UtcDatetime,
    Uuid7,
    require_reason_when,
)
from schemas.free_text import FreeText, check_text
from schemas.referrals import Reason
from schemas.situations import InterventionOutcome
from schemas.topics import TABLE_ACTIONS

NOTE = FreeText(
    field="note", code_prefix="note", label="note",
    contact_advice="contact details never go in a note every agency at the table reads",
)
REASON = FreeText(
    field="reason", code_prefix="reason", label="reason",
    contact_advice="contact details never go in a reason every agency at the table reads",
)
"""The free text of the table's commands: kept on the table-actions topic, and on the
forever-kept situations topic and the agendas once decided."""
FREE_TEXT: dict[str, FreeText] = {"note": NOTE, "reason": REASON}


def identifying_text(command: object) -> list[Reason]:
    """Every reason the free text of a table command identifies someone (convening decides
    the same; the gateway asks first, so such text is never published at all)."""
    found: list[Reason] = []
    for name, spec in FREE_TEXT.items():
        value = getattr(command, name, None)
        if isinstance(value, str):
            found.extend(check_text(value, spec))
    return found

AssignmentAnswer = Literal[
    "accepted", "rejected", "in-progress", "on-hold", "completed", "failed", "cancelled"
]


class SituationCommand(SituationKeyed, Command):
    """A command about one situation (keyed by its id)."""

    topic = TABLE_ACTIONS


class RecordAerDecision(SituationCommand):
    """Record the table's Filter 2 decision.

    Attributes:
        meeting_id: the meeting deciding.
        decision: confirmed, rejected (not AER) or returned.
        note: optional de-identified note.
    """

    ce_type = "ca.halton.commande.table.record_aer_decision.v1"

    meeting_id: Uuid7
    decision: AerDecision
    note: ShortText | None = None


class AssignAgencies(SituationCommand):
    """Name the lead agency and the assisting agencies (Filter 3).

    Attributes:
        meeting_id: the meeting deciding.
        lead: the lead agency.
        assisting: assisting agencies (no repeats, never the lead).
        identity_release: Filter 3 or Filter 4 release, per the table's setting.
    """

    ce_type = "ca.halton.commande.table.assign_agencies.v1"

    meeting_id: Uuid7
    lead: AgencyId
    assisting: tuple[AgencyId, ...] = Field(default=(), max_length=30)
    identity_release: IdentityRelease

    @model_validator(mode="after")
    def _distinct(self) -> AssignAgencies:
        ids = [self.lead, *self.assisting]
        if len(ids) != len(set(ids)):
            raise ValueError("an agency may appear once, as lead or as assisting")
        return self


class RespondToAssignment(SituationCommand):
    """An assigned agency answers or moves its task.

    Attributes:
        agency_id: the agency answering (must match the actor's agency).
        answer: the new task state; a reason is required for rejected, on-hold, failed, cancelled.
        reason: why, where required.
    """

    ce_type = "ca.halton.commande.table.respond_to_assignment.v1"
    model_config = ConfigDict(
        json_schema_extra=require_reason_when("answer", TASK_STATES_NEEDING_REASON)
    )

    agency_id: AgencyId
    answer: AssignmentAnswer
    reason: ShortText | None = None

    @model_validator(mode="after")
    def _reason_when_needed(self) -> RespondToAssignment:
        if self.answer in TASK_STATES_NEEDING_REASON and self.reason is None:
            raise ValueError(f"a reason is required to answer {self.answer}")
        return self


class RecordIntervention(SituationCommand):
    """Record the intervention's outcome (Filter 4).

    Attributes:
        agency_id: the agency that made (or tried) contact.
        first_contact_at: when first contact was made, if it was.
        outcome: what the person accepted or refused.
        services_mobilized: service-sector codes mobilized.
    """

    ce_type = "ca.halton.commande.table.record_intervention.v1"

    agency_id: AgencyId
    first_contact_at: UtcDatetime | None = None
    outcome: InterventionOutcome
    services_mobilized: tuple[Code, ...] = Field(default=(), max_length=20)


class ConcludeSituation(SituationCommand):
    """Close a situation with a conclusion code.

    Attributes:
        conclusion: a conclusion code from reference data.
        meeting_id: the meeting concluding it, if any.
    """

    ce_type = "ca.halton.commande.table.conclude_situation.v1"

    conclusion: Code
    meeting_id: Uuid7 | None = None


class ReopenSituation(SituationCommand):
    """The table chair reopens a concluded situation (the risk rose again).

    A withdrawn referral is not reopened: the agency refers again.

    Attributes:
        reason: a reason code (``risk_rose_again``...).
    """

    ce_type = "ca.halton.commande.table.reopen_situation.v1"

    reason: Code


class RespondToInvitation(Command):
    """An invited agency answers an invitation (keyed by meeting id).

    Attributes:
        meeting_id: the meeting.
        invitation_id: the invitation answered.
        answer: accepted, declined or tentative.
        attendance: in person or remote, when attending.
    """

    ce_type = "ca.halton.commande.table.respond_to_invitation.v1"
    topic = TABLE_ACTIONS

    meeting_id: Uuid7
    invitation_id: Uuid7
    answer: Literal["accepted", "declined", "tentative"]
    attendance: Literal["in_person", "remote"] | None = None

    def key(self) -> str:
        """The meeting id."""
        return str(self.meeting_id)

    def subject_id(self) -> UUID | None:
        """No situation: invitations are per meeting."""
        return None
