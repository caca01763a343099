"""convening's store in memory: the :class:`~services.convening.ports.ConveningStore` the shell's
unit tests run on, in milliseconds.

It keeps the tables of ``services/convening/sql`` as rows and answers as the SQL of
:mod:`services.convening.store` does; the contract suite
(``tests/support/contracts/convening_store.py``) holds both to the same outcomes. Honest where it
matters to the shell: states and slots go through their JSON as through ``jsonb``; keys are
unique and a violated key, reference or check raises the asyncpg error PostgreSQL would;
invitations and agenda entries keep their insertion order (the ``seq`` columns); ``ON
CONFLICT`` clauses keep or replace as the SQL says; a stale version raises ``StaleState``.

Its timers are the in-memory ``durable_timers`` (:mod:`tests.support.fakes.timers`, held to the
runtime's timer store contract), seen as convening's timers through the same
:class:`~services.convening.store.ConveningTimers` as on PostgreSQL.

Not modelled: locks (one caller at a time; ``nowait`` never fails) and transactions (a failing
call leaves what it wrote before; every statement checks before it writes, as one statement is
atomic).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg

from schemas.errors import StaleState
from services.convening.agenda import AgendaRow, Issued
from services.convening.answers import Found
from services.convening.booking import NewMeeting, NewSituation
from services.convening.invitations import Invitation, InvitedFor, Joining, MeetingInvitations
from services.convening.model import MeetingSlot
from services.convening.placement import Booked
from services.convening.situation import SituationState
from services.convening.store import ConveningTimers
from services.runtime.db import Connection
from tests.support.fakes.timers import InMemoryTimerStore

ANSWERS = frozenset({"accepted", "declined", "tentative"})
ATTENDANCE = frozenset({"in_person", "remote"})


@dataclass(slots=True)
class _Situation:
    priority: str
    opened_at: datetime
    summary: str
    state: str
    version: int
    updated_at: datetime


@dataclass(slots=True)
class _Meeting:
    slot: str
    district: str
    starts_at: datetime
    ends_at: datetime
    situation_count: int = 0


@dataclass(frozen=True, slots=True)
class _Invitation:
    meeting_id: UUID
    agency_id: str
    invitation_id: UUID
    name: str


@dataclass(frozen=True, slots=True)
class _InvitedFor:
    situation_id: UUID
    reasons: str
    matched_categories: str
    why: str


@dataclass(slots=True)
class _Issued:
    revision: int
    issued_at: datetime
    items: tuple[UUID, ...]
    pending_since: datetime | None = None


def _array(text: str) -> tuple[str, ...]:
    """``string_to_array(text, ',')``: the empty string is the empty array."""
    return tuple(text.split(",")) if text else ()


def _unique(keys: Iterable[object], existing: Iterable[object], what: str) -> None:
    seen = set(existing)
    for key in keys:
        if key in seen:
            raise asyncpg.UniqueViolationError(f"duplicate key value violates unique constraint "
                                               f"of {what}: {key}")
        seen.add(key)


@dataclass
class InMemoryConveningStore(ConveningTimers):
    """Every table of convening's schema, in memory; one instance is one database."""

    situations: dict[UUID, _Situation] = field(default_factory=dict)
    meetings: dict[UUID, _Meeting] = field(default_factory=dict)
    invitations: dict[tuple[UUID, str], _Invitation] = field(default_factory=dict)
    """By ``(meeting_id, agency_id)``, in invitation order (``invitations.seq``)."""
    invited_for: dict[tuple[UUID, str], dict[UUID, _InvitedFor]] = field(default_factory=dict)
    """By ``(meeting_id, agency_id)``, then situation, in joining order (``invited_for.seq``)."""
    issued: dict[tuple[UUID, str], _Issued] = field(default_factory=dict)
    answers: dict[UUID, tuple[UUID, str, str, str | None, datetime]] = field(default_factory=dict)
    timer_store: InMemoryTimerStore = field(default_factory=InMemoryTimerStore)
    """The schema's ``durable_timers`` (convening's timer methods are
    :class:`~services.convening.store.ConveningTimers`' over it, as on PostgreSQL)."""
    placement_locks: int = 0
    calendar_reads: int = 0
    locked_districts: list[tuple[str, ...]] = field(default_factory=list)
    """The districts of each :meth:`lock_placement`, in order."""
    """How many times placement was locked (the shell must lock before it places)."""

    def __call__(self, conn: Connection) -> InMemoryConveningStore:
        """The store of any connection: this one (``Handlers(deps, stores=fake)``)."""
        return self

    # -- situations ----------------------------------------------------------------------------

    async def lock_situation(self, situation_id: UUID, *,
                             nowait: bool = False) -> SituationState | None:
        row = self.situations.get(situation_id)
        return None if row is None else SituationState.model_validate_json(row.state)

    async def save_situation(self, state: SituationState, previous_version: int,
                             now: datetime) -> None:
        row = self.situations.get(state.situation_id) if state.situation_id else None
        if row is None or row.version != previous_version:
            raise StaleState(f"situation {state.situation_id} changed under us")
        row.state, row.version, row.updated_at = state.model_dump_json(), state.version, now

    async def known_situations(self, situation_ids: Sequence[UUID]) -> set[UUID]:
        return {sid for sid in situation_ids if sid in self.situations}

    def _agenda_row(self, sid: UUID) -> AgendaRow:
        row = self.situations[sid]
        return AgendaRow(sid, row.priority, row.opened_at, row.summary)

    async def agenda_rows(self, situation_ids: Sequence[UUID]) -> list[AgendaRow]:
        return [self._agenda_row(sid) for sid in dict.fromkeys(situation_ids)
                if sid in self.situations]

    async def agenda_rows_of(self, meeting_ids: Sequence[UUID]) -> list[AgendaRow]:
        wanted = set(meeting_ids)
        on = dict.fromkeys(sid for (mid, _), entries in self.invited_for.items() if mid in wanted
                           for sid in entries)
        return [self._agenda_row(sid) for sid in on if sid in self.situations]

    # -- meetings and invitations --------------------------------------------------------------

    async def lock_placement(self, districts: Iterable[str]) -> None:
        self.placement_locks += 1
        self.locked_districts.append(tuple(districts))

    def _invited(self, meeting_id: UUID) -> tuple[str, ...]:
        return tuple(agency for mid, agency in self.invitations if mid == meeting_id)

    async def meetings_in(self, windows: Sequence[tuple[str, datetime, datetime]],
                          capacity: int) -> list[Booked]:
        self.calendar_reads += 1
        return [Booked(MeetingSlot.model_validate_json(m.slot), m.situation_count,
                       self._invited(mid) if m.situation_count < capacity else ())
                for district, lo, hi in windows for mid, m in self.meetings.items()
                if m.district == district and lo <= m.starts_at <= hi]

    async def record_booking(self, *, situations: Sequence[NewSituation] = (),
                             meetings: Sequence[NewMeeting] = (),
                             joined: Sequence[tuple[UUID, UUID, Joining]] = ()) -> None:
        # RECORD_BOOKING: every constraint checked before anything is kept (one statement)
        _unique((s.state.situation_id for s in situations), self.situations, "situations")
        for s in situations:
            state = s.state
            if None in (state.situation_id, state.district, state.priority, state.opened_at):
                raise asyncpg.NotNullViolationError("situations: an opened situation's fields")
        _unique((m.slot.meeting_id for m in meetings), self.meetings, "meetings")
        for m in meetings:
            if not m.ends_at > m.slot.starts_at:
                raise asyncpg.CheckViolationError("meetings_check: ends_at > starts_at")
        known = {*self.meetings, *(m.slot.meeting_id for m in meetings)}
        new = [i for _, _, j in joined for i in j.new]
        for i in new:
            if i.meeting_id not in known:
                raise asyncpg.ForeignKeyViolationError(f"invitations: no meeting {i.meeting_id}")
        _unique(((i.meeting_id, i.agency_id) for i in new), self.invitations, "invitations_pkey")
        _unique((i.invitation_id for i in new),
                (i.invitation_id for i in self.invitations.values()), "invitation_id")
        invited = {*self.invitations, *((i.meeting_id, i.agency_id) for i in new)}
        entries = [(mid, sid, agency, e) for mid, sid, j in joined for agency, e in j.entries]
        for mid, _, agency, _ in entries:
            if (mid, agency) not in invited:
                raise asyncpg.ForeignKeyViolationError(f"invited_for: no invitation {mid}/{agency}")

        for s in situations:
            state = s.state
            assert state.situation_id is not None
            assert state.opened_at is not None
            self.situations[state.situation_id] = _Situation(
                str(state.priority), state.opened_at, s.summary_json, state.model_dump_json(),
                state.version, state.opened_at)
        for m in meetings:
            self.meetings[m.slot.meeting_id] = _Meeting(
                m.slot.model_dump_json(), m.slot.district, m.slot.starts_at, m.ends_at)
        for mid, _, _ in joined:  # an unknown meeting is no row to count on
            if mid in self.meetings:
                self.meetings[mid].situation_count += 1
        for i in new:
            self.invitations[i.meeting_id, i.agency_id] = _Invitation(
                i.meeting_id, i.agency_id, i.invitation_id, i.name)
        for mid, sid, agency, e in entries:  # ON CONFLICT DO NOTHING
            self.invited_for.setdefault((mid, agency), {}).setdefault(sid, _InvitedFor(
                sid, ",".join(e.reasons), ",".join(e.matched_categories), e.why))

    async def read_meeting(self, meeting_id: UUID) -> MeetingSlot | None:
        found = self.meetings.get(meeting_id)
        return None if found is None else MeetingSlot.model_validate_json(found.slot)

    async def meeting_ends(self, meeting_ids: Sequence[UUID]) -> dict[UUID, datetime]:
        return {mid: self.meetings[mid].ends_at for mid in meeting_ids if mid in self.meetings}

    async def load_invitations(self, meeting_id: UUID) -> MeetingInvitations:
        invitations = []
        for (mid, agency), head in self.invitations.items():
            entries = self.invited_for.get((mid, agency), {})
            if mid != meeting_id or not entries:  # an inner join
                continue
            invitations.append(Invitation(
                meeting_id=mid, invitation_id=head.invitation_id, agency_id=agency, name=head.name,
                situations=tuple(InvitedFor(situation_id=f.situation_id, reasons=_array(f.reasons),
                                            matched_categories=_array(f.matched_categories),
                                            why=f.why)
                                 for f in entries.values())))
        return MeetingInvitations(meeting_id=meeting_id, invitations=tuple(invitations))

    async def load_invitations_of(self, meeting_ids: Sequence[UUID]) -> dict[UUID, MeetingInvitations]:
        return {mid: await self.load_invitations(mid) for mid in meeting_ids}

    async def invitation(self, meeting_id: UUID, invitation_id: UUID) -> Found:
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            return None
        agency = next((i.agency_id for i in self.invitations.values()
                       if i.meeting_id == meeting_id and i.invitation_id == invitation_id), None)
        return meeting.starts_at, agency

    async def record_answer(self, invitation_id: UUID, meeting_id: UUID, agency_id: str,
                            answer: str, attendance: str | None, now: datetime) -> None:
        if answer not in ANSWERS or (attendance is not None and attendance not in ATTENDANCE):
            raise asyncpg.CheckViolationError(f"invitation_answers: {answer}/{attendance}")
        before = self.answers.get(invitation_id)
        if before is None and meeting_id not in self.meetings:
            raise asyncpg.ForeignKeyViolationError(f"invitation_answers: no meeting {meeting_id}")
        kept = (meeting_id, agency_id) if before is None else (before[0], before[1])
        self.answers[invitation_id] = (*kept, answer, attendance, now)

    async def recorded_answer(self, invitation_id: UUID) -> tuple[str, str | None] | None:
        found = self.answers.get(invitation_id)
        return None if found is None else (found[2], found[3])

    # -- agendas issued ------------------------------------------------------------------------

    async def issued_of(self, meeting_ids: Sequence[UUID]) -> dict[UUID, dict[str, Issued]]:
        out: dict[UUID, dict[str, Issued]] = {mid: {} for mid in meeting_ids}
        for (mid, agency), row in self.issued.items():
            if mid in out:
                out[mid][agency] = Issued(row.revision, row.issued_at, frozenset(row.items),
                                          row.pending_since is not None)
        return out

    async def record_issued_many(self, issued: Mapping[tuple[UUID, str], tuple[int, Sequence[UUID]]],
                                 now: datetime) -> None:
        for (mid, _), (revision, _) in issued.items():
            if mid not in self.meetings:
                raise asyncpg.ForeignKeyViolationError(f"agendas_issued: no meeting {mid}")
            if revision < 1:
                raise asyncpg.CheckViolationError("agendas_issued: revision >= 1")
        for key, (revision, items) in issued.items():
            self.issued[key] = _Issued(revision, now, tuple(items))

    async def mark_pending(self, waiting: Sequence[tuple[UUID, str]], now: datetime) -> None:
        for key in waiting:
            row = self.issued.get(key)
            if row is not None and row.pending_since is None:
                row.pending_since = now

    # -- for the tests' eyes -------------------------------------------------------------------

    def timer_states(self, aggregate_id: UUID) -> dict[str, str]:
        """``kind -> state`` of the aggregate's timers (what the integration tests query)."""
        return {row.timer.kind: row.state for row in self.timer_store.rows.values()
                if row.timer.aggregate_id == aggregate_id}

