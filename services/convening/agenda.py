"""Agendas: their order, and when each participant's agenda is issued (pure).

People expect one agenda before a regular meeting, not a notice per situation: a regular meeting's
agendas are issued ``agenda_lead_time_hours`` before it (at once if it was scheduled later than
that), an ad-hoc urgent meeting's at once; a situation that joins after issue sends an update
(a higher revision) to the participants whose agenda grew.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from schemas.base import Priority, UtcDatetime
from services.convening.invitations import MeetingInvitations
from services.convening.model import MeetingKind, MeetingSlot
from services.directory.model import TableSettings


class AgendaEntry(BaseModel):
    """A situation on the agenda (de-identified: id, priority, arrival)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    situation_id: UUID
    priority: Priority
    arrived_at: UtcDatetime


def order_agenda(entries: Iterable[AgendaEntry]) -> tuple[AgendaEntry, ...]:
    """Urgent first, then by arrival, then by situation id (a total, deterministic order)."""
    return tuple(sorted(entries, key=lambda e: (e.priority != "urgent", e.arrived_at, str(e.situation_id))))


def agenda_for(
    invitations: MeetingInvitations, agency_id: str, entries: Mapping[UUID, AgendaEntry]
) -> tuple[AgendaEntry, ...]:
    """The ordered agenda of one participant: only the situations it is invited for."""
    invitation = invitations.get(agency_id)
    if invitation is None:
        return ()
    return order_agenda(entries[s] for s in invitation.situation_ids() if s in entries)


def agenda_due_at(meeting: MeetingSlot, table: TableSettings) -> datetime:
    """When the meeting's agendas are first issued."""
    if meeting.kind is MeetingKind.ADHOC:
        return meeting.scheduled_at
    lead = meeting.starts_at - timedelta(hours=table.agenda_lead_time_hours)
    return max(meeting.scheduled_at, lead)


@dataclass(frozen=True, slots=True)
class AgendaIssue:
    """Issue ``revision`` of ``agency_id``'s agenda now; ``revision > 1`` is an update."""

    agency_id: str
    revision: int

    @property
    def is_update(self) -> bool:
        """Whether this follows an agenda already issued to the participant."""
        return self.revision > 1


def agendas_to_issue(
    meeting: MeetingSlot,
    table: TableSettings,
    invitations: MeetingInvitations,
    issued: Mapping[str, int],
    changed: Iterable[str],
    now: datetime,
) -> tuple[AgendaIssue, ...]:
    """The agendas to issue at ``now``.

    Args:
        issued: the last revision issued to each participant (absent: never issued).
        changed: participants whose agenda changed since their last issue.
        now: the current instant. Before the due time nothing is issued (the agenda timer will
            call again at :func:`agenda_due_at`); once the meeting has started, nothing either.
    """
    if now < agenda_due_at(meeting, table) or now >= meeting.starts_at:
        return ()
    changed_set = set(changed)
    out: list[AgendaIssue] = []
    for invitation in invitations.invitations:
        last = issued.get(invitation.agency_id, 0)
        if last == 0 or invitation.agency_id in changed_set:
            out.append(AgendaIssue(invitation.agency_id, last + 1))
    return tuple(out)
