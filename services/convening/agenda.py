"""Agendas: their order, and when each participant's agenda is issued (pure).

People expect one agenda before a regular meeting, not a notice per situation: a regular meeting's
agendas are issued ``agenda_lead_time_hours`` before it (at once if it was scheduled later than
that), an ad-hoc urgent meeting's at once. A situation that joins after issue changes the agenda of
the participants invited for it; those changes are **coalesced** (docs/agendas.md): a participant
gets an update at most once per update window (``COMMANDE_AGENDA_UPDATE_WINDOW_SECONDS``) after the
agenda it last received, carrying every change of that window, and at once when the window would
end after the meeting starts. A revision later replaced is never issued, so never rendered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from directory.model import TableSettings
from schemas.base import Priority, UtcDatetime
from schemas.meetings import AgendaIssued, AgendaItem, AgendaMeeting
from schemas.referrals import SituationSummary
from services.convening.invitations import MeetingInvitations
from services.convening.model import MeetingKind, MeetingSlot

VENUE_MAX = 280
"""The longest venue label the contracts carry."""


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
class Issued:
    """What a participant last received: ``revision`` at ``issued_at``, the situations on it,
    and whether its agenda changed since (``pending``: an update waits for the window)."""

    revision: int
    issued_at: datetime
    items: frozenset[UUID] = frozenset()
    pending: bool = False


@dataclass(frozen=True, slots=True)
class AgendaIssue:
    """Issue ``revision`` of ``agency_id``'s agenda now; ``revision > 1`` is an update."""

    agency_id: str
    revision: int

    @property
    def is_update(self) -> bool:
        """Whether this follows an agenda already issued to the participant."""
        return self.revision > 1


@dataclass(frozen=True, slots=True)
class AgendaPlan:
    """What to do at ``now``: ``issues`` go out; ``deferred`` participants have a change that
    waits for their window, the earliest of which ends at ``wake_at`` (the agenda timer's time)."""

    issues: tuple[AgendaIssue, ...] = ()
    deferred: tuple[str, ...] = ()
    wake_at: datetime | None = None


def agendas_to_issue(
    meeting: MeetingSlot,
    table: TableSettings,
    invited: Iterable[str],
    issued: Mapping[str, Issued],
    changed: Iterable[str],
    now: datetime,
    window: timedelta = timedelta(0),
) -> AgendaPlan:
    """The agendas to issue at ``now``, and the updates that wait.

    Args:
        invited: the agencies invited to the meeting, in invitation order
            (:meth:`~services.convening.invitations.MeetingInvitations.agencies`).
        issued: what each participant last received (absent: never issued).
        changed: participants whose agenda changed just now.
        now: the current instant. Before the due time nothing is issued (the agenda timer will
            call again at :func:`agenda_due_at`); once the meeting has started, nothing either.
        window: the update window. A participant's first agenda goes out at once; a change after
            it goes out once ``window`` has passed since the last one it received (folded with
            every other change meanwhile), or at once if that would be after the meeting starts.
    """
    if now < agenda_due_at(meeting, table) or now >= meeting.starts_at:
        return AgendaPlan()
    changed_set = set(changed)
    issues: list[AgendaIssue] = []
    deferred: list[str] = []
    wake: datetime | None = None
    for agency in invited:
        last = issued.get(agency)
        if last is None:
            issues.append(AgendaIssue(agency, 1))
            continue
        if agency not in changed_set and not last.pending:
            continue
        opens = last.issued_at + window
        if now >= opens or opens >= meeting.starts_at:
            issues.append(AgendaIssue(agency, last.revision + 1))
        else:
            deferred.append(agency)
            wake = opens if wake is None else min(wake, opens)
    return AgendaPlan(tuple(issues), tuple(deferred), wake)


@dataclass(frozen=True, slots=True)
class AgendaRow:
    """What an agenda item needs of a situation (de-identified): the stored row."""

    situation_id: UUID
    priority: str
    opened_at: datetime
    summary_json: str


def meeting_facts(meeting: MeetingSlot, ends_at: datetime) -> AgendaMeeting:
    """The meeting as its ``MeetingScheduled`` and every agenda of it describe it."""
    return AgendaMeeting(
        district=meeting.district,
        kind="ad_hoc" if meeting.kind is MeetingKind.ADHOC else "regular",
        starts_at=meeting.starts_at, ends_at=ends_at, venue=meeting.location[:VENUE_MAX])


def issued_ids(agenda: AgendaIssued) -> tuple[UUID, ...]:
    """The situations on an issued agenda, in its order (what the store remembers of it)."""
    return tuple(i.situation_id for i in agenda.items)


def agendas(meeting: MeetingSlot, ends_at: datetime, issues: Iterable[AgendaIssue],
            invitations: MeetingInvitations, had: Mapping[str, Issued],
            rows: Mapping[UUID, AgendaRow], now: datetime) -> list[AgendaIssued]:
    """The ``AgendaIssued`` of ``issues``: each participant's ordered agenda, the meeting's time
    and place, and on an update what it adds to the revision the participant ``had``."""
    facts = meeting_facts(meeting, ends_at)
    wanted = {sid for inv in invitations.invitations for sid in inv.situation_ids()}
    entries = {sid: AgendaEntry(situation_id=sid, priority=cast(Priority, rows[sid].priority),
                                arrived_at=rows[sid].opened_at) for sid in wanted if sid in rows}
    out: list[AgendaIssued] = []
    for issue in issues:
        ordered = agenda_for(invitations, issue.agency_id, entries)
        items = tuple(
            AgendaItem(position=i, situation_id=e.situation_id, priority=e.priority,
                       summary=SituationSummary.model_validate_json(rows[e.situation_id].summary_json))
            for i, e in enumerate(ordered, 1))
        before = had[issue.agency_id].items if issue.is_update and issue.agency_id in had else None
        out.append(AgendaIssued(
            meeting_id=meeting.meeting_id, agency_id=issue.agency_id,
            kind="update" if issue.is_update else "first", revision=issue.revision,
            items=items, issued_at=now, meeting=facts,
            added=() if before is None else tuple(i.situation_id for i in items
                                                  if i.situation_id not in before)))
    return out
