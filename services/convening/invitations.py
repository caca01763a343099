"""Invitations per meeting and participant, not per situation (pure).

When a situation joins a meeting, each participant it needs is invited to that meeting once;
a participant already invited only sees its agenda grow. :func:`invite` is idempotent: offering
the same situation twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import AgencyId
from services.convening.model import InviteReason, Participant, deterministic_uuid7


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InvitedFor(_Frozen):
    """One situation a participant is invited for, and why."""

    situation_id: UUID
    reasons: tuple[InviteReason, ...] = Field(min_length=1)
    matched_categories: tuple[str, ...] = ()
    why: str


class Invitation(_Frozen):
    """One participant's invitation to one meeting, with the situations it is there for."""

    meeting_id: UUID
    invitation_id: UUID
    """Derived from meeting and agency, so every instance and replay agrees on it (UUIDv7)."""
    agency_id: AgencyId
    name: str
    situations: tuple[InvitedFor, ...] = Field(min_length=1)

    def situation_ids(self) -> tuple[UUID, ...]:
        """The situations on this participant's agenda, in the order they joined."""
        return tuple(s.situation_id for s in self.situations)


class MeetingInvitations(_Frozen):
    """Every invitation of one meeting, in the order participants were first invited."""

    meeting_id: UUID
    invitations: tuple[Invitation, ...] = ()

    def get(self, agency_id: str) -> Invitation | None:
        """The invitation of ``agency_id``, if it is invited."""
        return next((i for i in self.invitations if i.agency_id == agency_id), None)

    def agencies(self) -> tuple[str, ...]:
        """The invited agencies, in invitation order."""
        return tuple(i.agency_id for i in self.invitations)


@dataclass(frozen=True, slots=True)
class InvitationChange:
    """What offering a situation to a meeting changes.

    Attributes:
        invitations: the meeting's invitations afterwards.
        new: invitations to send now (``ParticipantInvited``), one per newly invited participant.
        changed: agency ids whose agenda grew (new ones included), in invitation order.
    """

    invitations: MeetingInvitations
    new: tuple[Invitation, ...]
    changed: tuple[str, ...]


def invite(
    current: MeetingInvitations,
    situation_id: UUID,
    participants: Iterable[Participant],
    now: datetime,
) -> InvitationChange:
    """Add ``situation_id`` to the agendas of ``participants`` at ``current``'s meeting.

    ``now`` dates the ids of new invitations.
    """
    by_agency = {i.agency_id: i for i in current.invitations}
    order = [i.agency_id for i in current.invitations]
    new: list[str] = []
    changed: list[str] = []
    for p in participants:
        entry = InvitedFor(
            situation_id=situation_id,
            reasons=p.reasons,
            matched_categories=p.matched_categories,
            why=p.why,
        )
        known = by_agency.get(p.agency_id)
        if known is None:
            by_agency[p.agency_id] = Invitation(
                meeting_id=current.meeting_id,
                invitation_id=deterministic_uuid7(now, str(current.meeting_id), p.agency_id),
                agency_id=p.agency_id,
                name=p.name,
                situations=(entry,),
            )
            order.append(p.agency_id)
            new.append(p.agency_id)
            changed.append(p.agency_id)
        elif situation_id not in known.situation_ids():
            by_agency[p.agency_id] = known.model_copy(update={"situations": (*known.situations, entry)})
            changed.append(p.agency_id)
    after = MeetingInvitations(meeting_id=current.meeting_id, invitations=tuple(by_agency[a] for a in order))
    changed_set = set(changed)
    return InvitationChange(
        invitations=after,
        new=tuple(by_agency[a] for a in new),
        changed=tuple(a for a in order if a in changed_set),
    )


@dataclass(frozen=True, slots=True)
class Joining:
    """What a situation joining a meeting adds, given only who is already invited.

    Attributes:
        new: invitations to create and send (``ParticipantInvited``), in participant order.
        entries: ``(agency_id, entry)`` for every participant: the situation on their agenda.
        changed: agency ids whose agenda grew (all the situation's participants).
    """

    new: tuple[Invitation, ...]
    entries: tuple[tuple[str, InvitedFor], ...]
    changed: tuple[str, ...]


def join(
    meeting_id: UUID,
    invited: Iterable[str],
    situation_id: UUID,
    participants: Iterable[Participant],
    now: datetime,
) -> Joining:
    """:func:`invite` for a store that keeps invitations as rows: ``invited`` are the agency ids
    already invited to the meeting; the situation is new to the meeting.

    It decides the same as :func:`invite` (same invitation ids), without the whole meeting's
    invitations in memory, so a situation joining a busy meeting costs the same as the first.
    """
    known = set(invited)
    new: list[Invitation] = []
    entries: list[tuple[str, InvitedFor]] = []
    for p in participants:
        entry = InvitedFor(situation_id=situation_id, reasons=p.reasons,
                           matched_categories=p.matched_categories, why=p.why)
        entries.append((p.agency_id, entry))
        if p.agency_id not in known:
            known.add(p.agency_id)
            new.append(Invitation(
                meeting_id=meeting_id,
                invitation_id=deterministic_uuid7(now, str(meeting_id), p.agency_id),
                agency_id=p.agency_id, name=p.name, situations=(entry,)))
    return Joining(new=tuple(new), entries=tuple(entries),
                   changed=tuple(dict.fromkeys(a for a, _ in entries)))
