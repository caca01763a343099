"""convening's tables (schema ``convening``): situations, meetings, agendas issued, timers.

Every statement is a named constant with ``$n`` parameters. Rows that several transactions may
change are locked explicitly: a situation ``FOR UPDATE`` while a command or a timer decides on
it; placement (choosing and creating meetings, growing their invitations, issuing agendas) under
one transaction-scoped advisory lock, so two instances never schedule two meetings for one slot
nor lose an invitation. Timers are taken ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.errors import StaleState
from services.convening.invitations import Invitation, InvitedFor, Joining, MeetingInvitations
from services.convening.model import MeetingSlot
from services.convening.situation import SituationState
from services.convening.timers import Timer
from services.runtime.db import Connection

LOCK_PLACEMENT_AND_CHECK = """
SELECT pg_advisory_xact_lock(hashtext('commande.convening.placement')),
       EXISTS (SELECT 1 FROM situations WHERE situation_id = $1) AS known
"""

INSERT_SITUATION = """
INSERT INTO situations (situation_id, district, priority, opened_at, summary, state, version,
                        updated_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8)
"""
LOCK_SITUATION = "SELECT state FROM situations WHERE situation_id = $1 FOR UPDATE"
LOCK_SITUATION_NOWAIT = "SELECT state FROM situations WHERE situation_id = $1 FOR UPDATE NOWAIT"
SAVE_SITUATION = """
UPDATE situations SET state = $2::jsonb, version = $3, updated_at = $4
WHERE situation_id = $1 AND version = $5
"""
AGENDA_ROWS = """
SELECT situation_id, priority, opened_at, summary FROM situations WHERE situation_id = ANY($1::uuid[])
"""

FULL_FROM = """
SELECT meeting_id FROM meetings
WHERE district = $1 AND starts_at >= $2 AND situation_count >= $3
ORDER BY starts_at LIMIT $4
"""
MEETINGS_BETWEEN = """
SELECT slot FROM meetings WHERE district = $1 AND starts_at BETWEEN $2 AND $3 ORDER BY starts_at
"""
# Insert-or-get in one round trip; ``xmax = 0`` only on the row version this statement inserted.
UPSERT_MEETING = """
INSERT INTO meetings (meeting_id, district, kind, starts_at, ends_at, slot, scheduled_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
ON CONFLICT (meeting_id) DO UPDATE SET meeting_id = EXCLUDED.meeting_id
RETURNING slot, situation_count, (xmax = 0) AS created,
          ARRAY(SELECT i.agency_id FROM invitations i WHERE i.meeting_id = $1) AS invited
"""
READ_MEETING = "SELECT slot FROM meetings WHERE meeting_id = $1"
ADD_INVITATIONS = """
INSERT INTO invitations (meeting_id, agency_id, invitation_id, name)
SELECT $1, a, i, n FROM unnest($2::text[], $3::uuid[], $4::text[]) WITH ORDINALITY AS t(a, i, n, o)
ORDER BY o
"""
ADD_INVITED_FOR = """
WITH counted AS (
    UPDATE meetings SET situation_count = situation_count + 1 WHERE meeting_id = $1
)
INSERT INTO invited_for (meeting_id, agency_id, situation_id, reasons, matched_categories, why)
SELECT $1, a, $2, string_to_array(r, ','), string_to_array(c, ','), w
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS t(a, r, c, w, o)
ORDER BY o
ON CONFLICT DO NOTHING
"""
LOAD_INVITATIONS = """
SELECT i.agency_id, i.invitation_id, i.name, f.situation_id, f.reasons, f.matched_categories, f.why
FROM invitations i JOIN invited_for f USING (meeting_id, agency_id)
WHERE i.meeting_id = $1
ORDER BY i.seq, f.seq
"""
INVITATION = """
SELECT m.starts_at, i.agency_id
FROM meetings m LEFT JOIN invitations i ON i.meeting_id = m.meeting_id AND i.invitation_id = $2
WHERE m.meeting_id = $1
"""
ISSUED_REVISIONS = "SELECT agency_id, revision FROM agendas_issued WHERE meeting_id = $1"
RECORD_ISSUED = """
INSERT INTO agendas_issued (meeting_id, agency_id, revision, issued_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (meeting_id, agency_id) DO UPDATE SET revision = EXCLUDED.revision,
                                                  issued_at = EXCLUDED.issued_at
"""
RECORD_ANSWER = """
INSERT INTO invitation_answers (invitation_id, meeting_id, agency_id, answer, attendance, answered_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (invitation_id) DO UPDATE SET answer = EXCLUDED.answer,
    attendance = EXCLUDED.attendance, answered_at = EXCLUDED.answered_at
"""

INSERT_TIMERS = """
INSERT INTO timers (timer_key, kind, aggregate_id, due_at, started_at, window_due_at, agency_id,
                    created_at)
SELECT k, kd, a, d, s, w, ag, $8
FROM unnest($1::text[], $2::text[], $3::uuid[], $4::timestamptz[], $5::timestamptz[],
            $6::timestamptz[], $7::text[]) AS t(k, kd, a, d, s, w, ag)
ON CONFLICT (timer_key) DO NOTHING
"""
_TIMER_COLUMNS = "timer_key, kind, aggregate_id, due_at, started_at, window_due_at, agency_id"
PENDING_TIMERS = f"""
SELECT {_TIMER_COLUMNS} FROM timers WHERE aggregate_id = $1 AND state = 'pending'
"""
TAKE_DUE_TIMER = f"""
SELECT {_TIMER_COLUMNS} FROM timers
WHERE state = 'pending' AND due_at <= $1 AND timer_key <> ALL($2::text[])
ORDER BY due_at, timer_key
LIMIT 1
FOR UPDATE SKIP LOCKED
"""
SETTLE_TIMERS = """
UPDATE timers SET state = $2, settled_at = $3 WHERE timer_key = ANY($1::text[]) AND state = 'pending'
"""
RESCHEDULE_TIMER = "UPDATE timers SET due_at = $2 WHERE timer_key = $1 AND state = 'pending'"


@dataclass(frozen=True, slots=True)
class AgendaRow:
    """What an agenda item needs of a situation (de-identified)."""

    situation_id: UUID
    priority: str
    opened_at: datetime
    summary_json: str


async def lock_placement(conn: Connection, situation_id: UUID) -> bool:
    """Serialize placement (meeting choice, creation, invitations) until the transaction ends;
    returns whether ``situation_id`` is already known (checked under the lock)."""
    row = await conn.fetchrow(LOCK_PLACEMENT_AND_CHECK, situation_id)
    assert row is not None
    return bool(row["known"])


async def insert_situation(conn: Connection, state: SituationState, summary_json: str) -> None:
    """Record a newly opened situation with its state."""
    assert state.situation_id
    assert state.district
    assert state.priority
    assert state.opened_at
    await conn.execute(INSERT_SITUATION, state.situation_id, state.district, state.priority,
                       state.opened_at, summary_json, state.model_dump_json(), state.version,
                       state.opened_at)


async def lock_situation(conn: Connection, situation_id: UUID, *,
                         nowait: bool = False) -> SituationState | None:
    """The situation's state, locked until the transaction ends; ``None`` if unknown.

    With ``nowait``, raise ``LockNotAvailableError`` instead of waiting for another holder.
    """
    raw = await conn.fetchval(LOCK_SITUATION_NOWAIT if nowait else LOCK_SITUATION, situation_id)
    return None if raw is None else SituationState.model_validate_json(raw)


async def save_situation(conn: Connection, state: SituationState, previous_version: int,
                         now: datetime) -> None:
    """Store ``state`` over the version it was decided from."""
    done = await conn.execute(SAVE_SITUATION, state.situation_id, state.model_dump_json(),
                              state.version, now, previous_version)
    if done != "UPDATE 1":
        raise StaleState(f"situation {state.situation_id} changed under us")


async def agenda_rows(conn: Connection, situation_ids: Sequence[UUID]) -> list[AgendaRow]:
    """Agenda data of the given situations (unknown ids are left out)."""
    rows = await conn.fetch(AGENDA_ROWS, list(situation_ids))
    return [AgendaRow(r["situation_id"], r["priority"], r["opened_at"], r["summary"]) for r in rows]


async def meetings_between(conn: Connection, district: str, start: datetime,
                           end: datetime) -> list[MeetingSlot]:
    """The district's meetings starting in ``[start, end]``."""
    rows = await conn.fetch(MEETINGS_BETWEEN, district, start, end)
    return [MeetingSlot.model_validate_json(r["slot"]) for r in rows]


@dataclass(frozen=True, slots=True)
class StoredMeeting:
    """A meeting as stored: its slot, how many situations it holds, whether it was just created,
    and the agencies already invited to it."""

    slot: MeetingSlot
    situations: int
    created: bool
    invited: tuple[str, ...]


async def upsert_meeting(conn: Connection, slot: MeetingSlot, ends_at: datetime) -> StoredMeeting:
    """The meeting as stored (created now if new); hold :func:`lock_placement`."""
    row = await conn.fetchrow(UPSERT_MEETING, slot.meeting_id, slot.district, slot.kind.value,
                              slot.starts_at, ends_at, slot.model_dump_json(), slot.scheduled_at)
    assert row is not None
    return StoredMeeting(MeetingSlot.model_validate_json(row["slot"]),
                         int(row["situation_count"]), bool(row["created"]), tuple(row["invited"]))


async def full_meetings(conn: Connection, district: str, since: datetime, capacity: int,
                        limit: int) -> set[UUID]:
    """The first ``limit`` meetings of ``district`` from ``since`` on that have no room left
    (hold :func:`lock_placement`): placement skips them without a round trip each."""
    rows = await conn.fetch(FULL_FROM, district, since, capacity, limit)
    return {r["meeting_id"] for r in rows}


async def read_meeting(conn: Connection, meeting_id: UUID) -> MeetingSlot | None:
    """The meeting, if it exists."""
    raw = await conn.fetchval(READ_MEETING, meeting_id)
    return None if raw is None else MeetingSlot.model_validate_json(raw)


async def add_situation(conn: Connection, meeting_id: UUID, situation_id: UUID,
                        joining: Joining) -> None:
    """Record a situation joining the meeting: new invitations, every participant's agenda entry,
    and the meeting's situation count (hold :func:`lock_placement`)."""
    if joining.new:
        await conn.execute(ADD_INVITATIONS, meeting_id, [i.agency_id for i in joining.new],
                           [i.invitation_id for i in joining.new], [i.name for i in joining.new])
    await conn.execute(
        ADD_INVITED_FOR, meeting_id, situation_id, [a for a, _ in joining.entries],
        [",".join(e.reasons) for _, e in joining.entries],
        [",".join(e.matched_categories) for _, e in joining.entries],
        [e.why for _, e in joining.entries])


async def load_invitations(conn: Connection, meeting_id: UUID) -> MeetingInvitations:
    """Every invitation of the meeting with the situations each participant is invited for."""
    rows = await conn.fetch(LOAD_INVITATIONS, meeting_id)
    heads: dict[str, tuple[UUID, str]] = {}
    entries: dict[str, list[InvitedFor]] = {}
    for r in rows:
        heads.setdefault(r["agency_id"], (r["invitation_id"], r["name"]))
        entries.setdefault(r["agency_id"], []).append(InvitedFor(
            situation_id=r["situation_id"], reasons=tuple(r["reasons"]),
            matched_categories=tuple(r["matched_categories"]), why=r["why"]))
    return MeetingInvitations(meeting_id=meeting_id, invitations=tuple(
        Invitation(meeting_id=meeting_id, invitation_id=head[0], agency_id=agency, name=head[1],
                   situations=tuple(entries[agency]))
        for agency, head in heads.items()))


async def invitation(conn: Connection, meeting_id: UUID,
                     invitation_id: UUID) -> tuple[datetime, str | None] | None:
    """``(meeting start, invited agency or None)``, or ``None`` when there is no such meeting."""
    row = await conn.fetchrow(INVITATION, meeting_id, invitation_id)
    return None if row is None else (row["starts_at"], row["agency_id"])


async def issued_revisions(conn: Connection, meeting_id: UUID) -> dict[str, int]:
    """The last agenda revision issued to each participant of the meeting."""
    rows = await conn.fetch(ISSUED_REVISIONS, meeting_id)
    return {r["agency_id"]: int(r["revision"]) for r in rows}


async def record_issued(conn: Connection, meeting_id: UUID, agency_id: str, revision: int,
                        now: datetime) -> None:
    """Remember that ``revision`` of the participant's agenda went out."""
    await conn.execute(RECORD_ISSUED, meeting_id, agency_id, revision, now)


async def record_answer(conn: Connection, invitation_id: UUID, meeting_id: UUID, agency_id: str,
                        answer: str, attendance: str | None, now: datetime) -> None:
    """Record (or replace) a participant's answer to its invitation."""
    await conn.execute(RECORD_ANSWER, invitation_id, meeting_id, agency_id, answer, attendance, now)


async def insert_timers(conn: Connection, timers: Sequence[Timer], now: datetime) -> None:
    """Start timers; one already started (same key) is left as it is."""
    if not timers:
        return
    await conn.execute(
        INSERT_TIMERS, [t.key for t in timers], [t.kind for t in timers],
        [t.aggregate_id for t in timers], [t.due_at for t in timers],
        [t.started_at for t in timers], [t.window_due_at for t in timers],
        [t.agency_id for t in timers], now)


def _timer(row: Any) -> Timer:
    return Timer(key=row["timer_key"], kind=row["kind"], aggregate_id=row["aggregate_id"],
                 due_at=row["due_at"], started_at=row["started_at"],
                 window_due_at=row["window_due_at"], agency_id=row["agency_id"])


async def pending_timers(conn: Connection, aggregate_id: UUID) -> list[Timer]:
    """The pending timers of a situation or meeting."""
    return [_timer(r) for r in await conn.fetch(PENDING_TIMERS, aggregate_id)]


async def take_due_timer(conn: Connection, now: datetime, skip: Sequence[str]) -> Timer | None:
    """The earliest due pending timer no other transaction holds, locked; ``None`` if none."""
    row = await conn.fetchrow(TAKE_DUE_TIMER, now, list(skip))
    return None if row is None else _timer(row)


async def settle_timers(conn: Connection, keys: Sequence[str], state: str, now: datetime) -> None:
    """Mark pending timers ``fired`` or ``cancelled``."""
    if keys:
        await conn.execute(SETTLE_TIMERS, list(keys), state, now)


async def reschedule_timer(conn: Connection, key: str, due_at: datetime) -> None:
    """Move a pending timer."""
    await conn.execute(RESCHEDULE_TIMER, key, due_at)

