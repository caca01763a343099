"""The meetings stream: table meetings, invitations, agendas, and refused commands."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, Strict, StringConstraints, model_validator

from schemas.base import (
    CE_TYPE_PATTERN,
    Actor,
    AgencyId,
    AnyUuid,
    Code,
    Contract,
    Event,
    JsonDict,
    Priority,
    ShortText,
    UtcDatetime,
    Uuid7,
)
from schemas.referrals import Reason, SituationSummary
from schemas.topics import MEETINGS

InvitationReason = Literal[
    "district_cmb", "table_chair", "originating_agency", "sector_match", "lead_agency",
    "assisting_agency", "standing_member",
]


class MeetingEvent(Event):
    """An event of the meetings stream, keyed by meeting id."""

    topic = MEETINGS

    meeting_id: Uuid7

    def key(self) -> str:
        """The meeting id."""
        return str(self.meeting_id)


class MeetingScheduled(MeetingEvent):
    """Convening scheduled a table meeting (regular cadence, or ad hoc for urgent situations).

    Attributes:
        district: the district table.
        kind: ``regular`` or ``ad_hoc``.
        starts_at: start.
        ends_at: planned end.
        venue: a label for the venue (a station, "remote"); never a private address.
        scheduled_at: when it was scheduled.
    """

    ce_type = "ca.halton.commande.meeting.scheduled.v1"

    district: Code
    kind: Literal["regular", "ad_hoc"]
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    venue: ShortText
    scheduled_at: UtcDatetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> MeetingScheduled:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ParticipantInvited(MeetingEvent):
    """An agency is invited to a meeting, with why.

    Attributes:
        invitation_id: id of this invitation (answered by ``RespondToInvitation``).
        agency_id: the invited agency.
        reason: why it is invited.
        situation_ids: the situations it is invited for (empty for a standing member).
        matched_sectors: for ``sector_match``, the service sectors that matched.
        invited_at: when.
    """

    ce_type = "ca.halton.commande.meeting.participant_invited.v1"

    invitation_id: Uuid7
    agency_id: AgencyId
    reason: InvitationReason
    situation_ids: tuple[Uuid7, ...] = Field(default=(), max_length=100)
    matched_sectors: tuple[Code, ...] = Field(default=(), max_length=20)
    invited_at: UtcDatetime


class AgendaItem(Contract):
    """One de-identified situation on a participant's agenda.

    Attributes:
        position: order on the agenda, from 1.
        situation_id: the situation.
        priority: routine or urgent.
        summary: the de-identified block.
    """

    position: Annotated[int, Strict(), Field(ge=1)]
    situation_id: Uuid7
    priority: Priority
    summary: SituationSummary


class AgendaMeeting(Contract):
    """The meeting an agenda is for, as its participant needs it (the facts of its
    ``MeetingScheduled``, so a reader of the agenda needs no other event).

    Attributes:
        district: the district table.
        kind: ``regular`` or ``ad_hoc``.
        starts_at: start.
        ends_at: planned end.
        venue: a label for the venue (a station, "remote"); never a private address.
    """

    district: Code
    kind: Literal["regular", "ad_hoc"]
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    venue: ShortText


_FIRST_IS_REVISION_ONE: JsonDict = {
    "if": {"properties": {"kind": {"const": "first"}}, "required": ["kind"]},
    "then": {"properties": {"revision": {"const": 1}}},
    "else": {"properties": {"revision": {"minimum": 2}}},
}


class AgendaIssued(MeetingEvent):
    """A participant's agenda for a meeting: the first issue, or an update (higher revision).

    Attributes:
        agency_id: the participant.
        kind: ``first`` (revision 1) or ``update`` (revision 2 or more).
        revision: monotonically increasing per meeting and participant.
        items: the situations it is there for.
        issued_at: when.
        meeting: the meeting's time and place (absent on agendas issued before it was added).
        added: on an update, the situations that were not on the revision the participant had
            (updates are coalesced: one revision may add several; docs/agendas.md).
    """

    ce_type = "ca.halton.commande.meeting.agenda_issued.v1"
    model_config = ConfigDict(json_schema_extra=_FIRST_IS_REVISION_ONE)

    agency_id: AgencyId
    kind: Literal["first", "update"]
    revision: Annotated[int, Strict(), Field(ge=1)]
    items: tuple[AgendaItem, ...] = Field(default=(), max_length=100)
    issued_at: UtcDatetime
    meeting: AgendaMeeting | None = None
    added: tuple[Uuid7, ...] = Field(default=(), max_length=100)

    @model_validator(mode="after")
    def _kind_matches_revision(self) -> AgendaIssued:
        if (self.kind == "first") != (self.revision == 1):
            raise ValueError("kind 'first' goes with revision 1, 'update' with revision 2+")
        return self


class UrgentSituationAdded(MeetingEvent):
    """An urgent situation joined a meeting whose chair will not see it on an agenda at once:
    the chair is told now (de-identified), and the participants' agendas list it by
    ``agendas_by`` (coalesced updates, or the meeting's first agendas; docs/agendas.md).

    Attributes:
        agency_id: the chair's agency (the district CMB).
        situation_id: the urgent situation.
        summary: its de-identified block, as the agendas carry it.
        meeting: the meeting's time and place.
        agendas_by: when the participants' agendas list it at the latest.
        added_at: when it joined the meeting.
    """

    ce_type = "ca.halton.commande.meeting.urgent_situation_added.v1"

    agency_id: AgencyId
    situation_id: Uuid7
    summary: SituationSummary
    meeting: AgendaMeeting
    agendas_by: UtcDatetime
    added_at: UtcDatetime

    def subject_id(self) -> UUID | None:
        """The situation."""
        return self.situation_id


class CommandRejected(Event):
    """Convening refused a command, with every reason.

    Keyed by the command's own key (the situation or meeting it addressed), so a refusal is
    ordered with the facts of the same aggregate.

    Attributes:
        command_id: the refused command's ``ce_id``.
        command_type: the refused command's ``ce_type``.
        target: whether the command addressed a situation or a meeting.
        target_id: that situation's or meeting's id.
        rejected_at: when.
        reasons: every reason.
        actor: who issued the refused command (the agency and role the gateway verified);
            absent on refusals recorded before it was carried.
    """

    ce_type = "ca.halton.commande.table.command_rejected.v1"
    topic = MEETINGS

    command_id: AnyUuid
    command_type: Annotated[
        str, StringConstraints(strict=True, max_length=128, pattern=CE_TYPE_PATTERN)
    ]
    target: Literal["situation", "meeting"]
    target_id: Uuid7
    rejected_at: UtcDatetime
    reasons: tuple[Reason, ...] = Field(min_length=1, max_length=100)
    actor: Actor | None = None

    def key(self) -> str:
        """The target's id."""
        return str(self.target_id)

    def subject_id(self) -> UUID | None:
        """The situation id, when the command addressed a situation."""
        return self.target_id if self.target == "situation" else None
