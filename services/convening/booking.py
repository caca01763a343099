"""What booking a batch of placed situations writes and emits (pure).

:func:`~services.convening.placement.place_all` says where each situation goes; :func:`book`
turns those placements into the rows to write (situations, meetings, timers, invitations and
agenda entries, issued revisions, waiting updates, agenda timers to arm) and, per situation in
order, the events to emit: ``SituationScheduled``, ``MeetingScheduled`` for a meeting it creates,
``ParticipantInvited`` for each newly invited participant, and the agendas now due. The shell
only reads what :func:`due_meetings` names, calls :func:`book`, writes and emits.

Most batches placing into a meeting whose agendas are due issue nothing there: its participants'
updates wait for the window. So the shell first books with what each participant last received
and who is invited (cheap), without the meeting's invitations and agenda rows (a row per
participant and situation); :func:`book` says which meetings it must issue agendas of
(:class:`Unloaded`), and only those are read before booking again from the start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID

from directory.model import TableSettings
from schemas.base import Message
from schemas.meetings import (
    AgendaIssued,
    AgendaMeeting,
    InvitationReason,
    MeetingScheduled,
    ParticipantInvited,
    UrgentSituationAdded,
)
from schemas.situations import SituationOpened
from services.convening.agenda import (
    AgendaRow,
    Issued,
    agenda_due_at,
    agendas,
    agendas_to_issue,
    issued_ids,
    meeting_facts,
)
from services.convening.invitations import Invitation, Joining, MeetingInvitations, invite
from services.convening.model import InviteReason, MeetingSlot, Participant
from services.convening.placement import Placed
from services.convening.situation import INITIAL, SituationState, decide_schedule, evolve
from services.convening.timers import Timer, agenda_timer

INVITATION_REASON: Mapping[InviteReason, InvitationReason] = {
    InviteReason.DISTRICT_CMB: "district_cmb",
    InviteReason.ORIGINATING_AGENCY: "originating_agency",
    InviteReason.SECTOR_MATCH: "sector_match",
}
"""A participant's main reason as the ``ParticipantInvited`` contract names it."""


@dataclass(frozen=True, slots=True)
class NewSituation:
    """A situation to insert: its state and de-identified summary."""

    state: SituationState
    summary_json: str


@dataclass(frozen=True, slots=True)
class NewMeeting:
    """A meeting to insert."""

    slot: MeetingSlot
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class DueAgendas:
    """What is stored of the meetings whose agendas are due (:func:`due_meetings`).

    Attributes:
        invitations: the invitations of the due meetings that are *loaded* (those that may
            issue agendas: see :class:`Unloaded`).
        issued: what each participant last received, an entry per due meeting (this, not
            ``invitations``, says which meetings are due).
        ends: when the stored due meetings end (and those of :func:`described_meetings`).
        rows: the agenda rows of the situations on the loaded meetings.
        invited: the agencies invited to the due meetings that are not loaded (none if absent).
    """

    invitations: Mapping[UUID, MeetingInvitations]
    issued: Mapping[UUID, Mapping[str, Issued]]
    ends: Mapping[UUID, datetime]
    rows: Mapping[UUID, AgendaRow]
    invited: Mapping[UUID, tuple[str, ...]] = field(default_factory=dict)


NOTHING_DUE = DueAgendas({}, {}, {}, {})


@dataclass(frozen=True, slots=True)
class Unloaded:
    """:func:`book` issues agendas of these due meetings, whose invitations and agenda rows are
    not in its :class:`DueAgendas`: load them and book again."""

    meetings: tuple[UUID, ...]


@dataclass(frozen=True, slots=True)
class Booking:
    """What :func:`book` decided.

    Attributes:
        situations: to insert, in order.
        meetings: created by this batch.
        timers: the new meetings' agenda timers.
        joined: ``(meeting_id, situation_id, joining)`` per situation, in order.
        revisions: the revision and situations issued now per ``(meeting_id, agency_id)``.
        waiting: participants whose agenda changed and whose update waits for its window.
        wake: per meeting with a waiting update, when its agenda timer must look again.
        events: per situation (in the order of ``opened``), what to emit.
    """

    situations: tuple[NewSituation, ...]
    meetings: tuple[NewMeeting, ...]
    timers: tuple[Timer, ...]
    joined: tuple[tuple[UUID, UUID, Joining], ...]
    revisions: Mapping[tuple[UUID, str], tuple[int, tuple[UUID, ...]]]
    waiting: tuple[tuple[UUID, str], ...]
    wake: Mapping[UUID, datetime]
    events: tuple[tuple[Message, ...], ...]


def due_meetings(placed: Sequence[Placed], tables: Mapping[str, TableSettings],
                 now: datetime) -> list[UUID]:
    """The meetings of ``placed`` whose agendas are due at ``now`` (issued, not yet started)."""
    return list(dict.fromkeys(
        p.meeting.meeting_id for p in placed
        if agenda_due_at(p.meeting, tables[p.meeting.district]) <= now < p.meeting.starts_at))


def described_meetings(opened: Sequence[SituationOpened], placed: Sequence[Placed],
                       due: Sequence[UUID]) -> list[UUID]:
    """The stored meetings whose end :func:`book` needs: those of ``due``, and those an urgent
    situation joins (its chair's notice describes the meeting)."""
    urgent = (p.meeting.meeting_id for e, p in zip(opened, placed, strict=True)
              if e.priority == "urgent" and not p.created)
    return list(dict.fromkeys([*due, *urgent]))


def meeting_scheduled(meeting: MeetingSlot, ends_at: datetime, now: datetime) -> MeetingScheduled:
    """The ``MeetingScheduled`` of a meeting created at ``now``."""
    facts = meeting_facts(meeting, ends_at)
    return MeetingScheduled(meeting_id=meeting.meeting_id, district=facts.district,
                            kind=facts.kind, starts_at=facts.starts_at, ends_at=facts.ends_at,
                            venue=facts.venue, scheduled_at=now)


def participant_invited(invitation: Invitation, participant: Participant,
                        now: datetime) -> ParticipantInvited:
    """The ``ParticipantInvited`` of a new invitation, with the participant's main reason."""
    return ParticipantInvited(
        meeting_id=invitation.meeting_id, invitation_id=invitation.invitation_id,
        agency_id=invitation.agency_id, reason=INVITATION_REASON[participant.reason],
        situation_ids=invitation.situation_ids(), matched_sectors=participant.matched_sectors,
        invited_at=now)


def chair_of(participants: Sequence[Participant]) -> str | None:
    """The participant that chairs the table (the district CMB), if one is invited."""
    return next((x.agency_id for x in participants if InviteReason.DISTRICT_CMB in x.reasons),
                None)


def urgent_notice(event: SituationOpened, placed: Placed, meeting: AgendaMeeting,
                  issued_now: Sequence[AgendaIssued], agendas_by: datetime,
                  now: datetime) -> tuple[UrgentSituationAdded, ...]:
    """The chair's notice of an urgent situation that no agenda issued ``now`` shows them (their
    update waits for its window, or the meeting's agendas are not due yet): an urgent situation
    reaches its table's chair at once, whatever the agenda rule defers (docs/agendas.md)."""
    chair = chair_of(placed.participants)
    if chair is None or any(a.agency_id == chair and event.situation_id in issued_ids(a)
                            for a in issued_now):
        return ()
    return (UrgentSituationAdded(
        meeting_id=placed.meeting.meeting_id, agency_id=chair, situation_id=event.situation_id,
        summary=event.summary, meeting=meeting, agendas_by=max(agendas_by, now), added_at=now),)


def book(opened: Sequence[SituationOpened], placed: Sequence[Placed],
         tables: Mapping[str, TableSettings], due: DueAgendas, meeting_length: timedelta,
         window: timedelta, now: datetime) -> Booking | Unloaded:
    """Book ``placed`` (one per ``opened``, same order): each situation in turn sees the
    invitations and issued agendas the ones before it left. :class:`Unloaded` when it would
    issue agendas of a due meeting that ``due`` has not loaded (it decides the same with and
    without the invitations of a meeting that issues nothing).

    Args:
        due: the stored state of :func:`due_meetings`'s meetings (:data:`NOTHING_DUE` if none).
        meeting_length: how long a created meeting is planned to last.
        window: the agenda update window.
    """
    invitations = dict(due.invitations)
    invited = dict(due.invited)
    unloaded: dict[UUID, None] = {}
    issued = {mid: dict(by_agency) for mid, by_agency in due.issued.items()}
    ends = dict(due.ends)
    rows = dict(due.rows)
    situations: list[NewSituation] = []
    meetings: list[NewMeeting] = []
    timers: list[Timer] = []
    revisions: dict[tuple[UUID, str], tuple[int, tuple[UUID, ...]]] = {}
    out: list[tuple[Message, ...]] = []
    for event, p in zip(opened, placed, strict=True):
        meeting, table, sid = p.meeting, tables[p.meeting.district], event.situation_id
        mid = meeting.meeting_id
        scheduled = decide_schedule(evolve(INITIAL, event), meeting, now)
        state = scheduled.state
        summary_json = event.summary.model_dump_json()
        situations.append(NewSituation(state, summary_json))
        events: list[Message] = [*scheduled.events]
        if p.created:
            ends_at = ends[mid] = meeting.starts_at + meeting_length
            meetings.append(NewMeeting(meeting, ends_at))
            timers.append(agenda_timer(mid, agenda_due_at(meeting, table)))
            events.append(meeting_scheduled(meeting, ends_at, now))
        by_agency = {x.agency_id: x for x in p.participants}
        events.extend(participant_invited(inv, by_agency[inv.agency_id], now)
                      for inv in p.joining.new)
        fresh: list[AgendaIssued] = []
        agendas_by = agenda_due_at(meeting, table)
        if mid in issued:  # its agendas are due: issue what changed
            if mid in invitations:
                assert state.opened_at is not None
                rows[sid] = AgendaRow(sid, event.priority, state.opened_at, summary_json)
                invitations[mid] = invite(invitations[mid], sid, p.participants, now).invitations
                agencies = invitations[mid].agencies()
            else:
                agencies = invited[mid] = (*invited.get(mid, ()),
                                           *(inv.agency_id for inv in p.joining.new))
            plan = agendas_to_issue(meeting, table, agencies, issued[mid], p.joining.changed,
                                    now, window)
            if plan.issues:
                if mid not in invitations:
                    unloaded[mid] = None  # not the booking: the next is, with the meeting read
                    continue
                fresh = agendas(meeting, ends[mid], plan.issues, invitations[mid], issued[mid],
                                rows, now)
                events.extend(fresh)
                for agenda in fresh:
                    revisions[mid, agenda.agency_id] = (agenda.revision, issued_ids(agenda))
                    issued[mid][agenda.agency_id] = Issued(agenda.revision, now,
                                                           frozenset(issued_ids(agenda)))
            for agency in plan.deferred:
                issued[mid][agency] = replace(issued[mid][agency], pending=True)
            agendas_by = max((min(issued[mid][a].issued_at + window, meeting.starts_at)
                              for a in plan.deferred), default=now)
        if event.priority == "urgent":
            events.extend(urgent_notice(event, p, meeting_facts(meeting, ends[mid]), fresh,
                                        agendas_by, now))
        out.append(tuple(events))
    if unloaded:
        return Unloaded(tuple(unloaded))
    waiting = tuple((mid, agency) for mid, by_agency in issued.items()
                    for agency, last in by_agency.items() if last.pending)
    wake = {mid: min(last.issued_at for last in issued[mid].values() if last.pending) + window
            for mid in dict.fromkeys(mid for mid, _ in waiting)}
    return Booking(
        situations=tuple(situations), meetings=tuple(meetings), timers=tuple(timers),
        joined=tuple((p.meeting.meeting_id, p.situation_id, p.joining) for p in placed),
        revisions=revisions, waiting=waiting, wake=wake, events=tuple(out))
