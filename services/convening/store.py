"""convening's tables (schema ``convening``): situations, meetings, agendas issued; its timers in
the runtime's ``durable_timers`` (:mod:`services.runtime.timers`).

:class:`PgConveningStore` is the PostgreSQL :class:`~services.convening.ports.ConveningStore`,
bound to one transaction's connection. Every statement is a named constant with ``$n``
parameters. Rows that several transactions may change are locked explicitly: a situation
``FOR UPDATE`` while a command or a timer decides on it; placement (choosing and creating
meetings, growing their invitations, issuing agendas) under a transaction-scoped advisory lock
per district table, so two instances never schedule two meetings for one slot nor lose an
invitation, while one table's backlog never holds another table's placements. Timers
are taken ``FOR UPDATE SKIP LOCKED`` by the runtime's timer loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.errors import StaleState
from services.convening.agenda import AgendaRow, Issued
from services.convening.answers import Found
from services.convening.booking import NewMeeting, NewSituation
from services.convening.invitations import Invitation, InvitedFor, Joining, MeetingInvitations
from services.convening.model import MeetingSlot
from services.convening.placement import Booked
from services.convening.situation import SituationState
from services.convening.timers import Timer, agenda_timer, as_row, from_row
from services.runtime.db import Connection
from services.runtime.timers import PgTimerStore, Settled, TimerStore

LOCK_PLACEMENT = """
SELECT count(pg_advisory_xact_lock(hashtext('commande.convening.placement.' || d)))
FROM unnest($1::text[]) AS d
"""
"""The placement locks of the districts ``$1``, taken in the array's order (sorted by the store,
so two transactions never wait for each other's second district)."""
KNOWN_SITUATIONS = "SELECT situation_id FROM situations WHERE situation_id = ANY($1::uuid[])"
MEETINGS_IN_WINDOWS = """
SELECT m.slot, m.situation_count,
       CASE WHEN m.situation_count < $4 THEN ARRAY(
           SELECT i.agency_id FROM invitations i WHERE i.meeting_id = m.meeting_id ORDER BY i.seq)
       ELSE '{}' END AS invited
FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS w(d, lo, hi)
CROSS JOIN LATERAL (
    SELECT meeting_id, slot, situation_count FROM meetings
    WHERE district = w.d AND starts_at BETWEEN w.lo AND w.hi OFFSET 0) AS m
"""
"""The meetings of each window ``($1[k], $2[k], $3[k])``, read by ``meetings_by_district`` per
window (the lateral subquery; joined to the windows instead, PostgreSQL planned a sequential scan
of every meeting, 3.7 ms at 6,900 meetings against 0.1 ms), and the agencies invited to those with
fewer than ``$4`` (the capacity) situations: placement never joins a full meeting, and a backlog's
calendar reads walk past dozens of them."""
RECORD_BOOKING = """
WITH new_situations AS (
    INSERT INTO situations (situation_id, district, priority, opened_at, summary, state, version,
                            updated_at)
    SELECT i, d, p, o, s::jsonb, st::jsonb, v, o
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                $7::int[]) WITH ORDINALITY AS t(i, d, p, o, s, st, v, n)
    ORDER BY n
), new_meetings AS (
    INSERT INTO meetings (meeting_id, district, kind, starts_at, ends_at, slot, scheduled_at,
                          situation_count)
    SELECT i, d, k, s, e, sl::jsonb, sc, c
    FROM unnest($8::uuid[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[],
                $13::text[], $14::timestamptz[], $15::int[]) WITH ORDINALITY
        AS t(i, d, k, s, e, sl, sc, c, n)
    ORDER BY n
), counted AS (
    UPDATE meetings m SET situation_count = m.situation_count + t.added
    FROM unnest($16::uuid[], $17::int[]) AS t(meeting_id, added)
    WHERE m.meeting_id = t.meeting_id
), new_invitations AS (
    INSERT INTO invitations (meeting_id, agency_id, invitation_id, name)
    SELECT m, a, i, n FROM unnest($18::uuid[], $19::text[], $20::uuid[], $21::text[])
        WITH ORDINALITY AS t(m, a, i, n, o)
    ORDER BY o
)
INSERT INTO invited_for (meeting_id, agency_id, situation_id, reasons, matched_categories, why)
SELECT m, a, s, string_to_array(r, ','), string_to_array(c, ','), w
FROM unnest($22::uuid[], $23::text[], $24::uuid[], $25::text[], $26::text[], $27::text[])
    WITH ORDINALITY AS t(m, a, s, r, c, w, o)
ORDER BY o
ON CONFLICT DO NOTHING
"""
"""A batch's placements in one statement (one round trip under the placement lock): the new
situations ``$1..$7``; the new meetings ``$8..$14`` holding ``$15`` situations each; the
situation counts ``$17`` added to the stored meetings ``$16`` (the statement's parts share one
snapshot: an ``UPDATE`` here would not see a meeting inserted beside it); the new invitations
``$18..$21``; the agenda entries ``$22..$27`` (one already there is kept). Each part keeps its
arrays' order (``invitations.seq``, ``invited_for.seq``). Foreign keys are checked at the end of
the statement, so an entry may name an invitation, and an invitation a meeting, inserted in it."""
LOAD_INVITATIONS_MANY = """
SELECT i.meeting_id, i.agency_id, i.invitation_id, i.name, f.situation_id, f.reasons,
       f.matched_categories, f.why
FROM invitations i JOIN invited_for f USING (meeting_id, agency_id)
WHERE i.meeting_id = ANY($1::uuid[])
ORDER BY i.meeting_id, i.seq, f.seq
"""
ISSUED_MANY = """
SELECT meeting_id, agency_id, revision, issued_at, items, pending_since IS NOT NULL AS pending
FROM agendas_issued WHERE meeting_id = ANY($1::uuid[])
"""
AGENDA_ROWS_OF_MEETINGS = """
SELECT situation_id, priority, opened_at, summary FROM situations
WHERE situation_id IN (SELECT situation_id FROM invited_for WHERE meeting_id = ANY($1::uuid[]))
"""
RECORD_ISSUED_MANY = """
INSERT INTO agendas_issued (meeting_id, agency_id, revision, issued_at, items)
SELECT m, a, r, $5, string_to_array(i, ',')::uuid[]
FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[]) AS t(m, a, r, i)
ON CONFLICT (meeting_id, agency_id) DO UPDATE SET revision = EXCLUDED.revision,
    issued_at = EXCLUDED.issued_at, items = EXCLUDED.items, pending_since = NULL
"""
MARK_PENDING = """
UPDATE agendas_issued SET pending_since = COALESCE(pending_since, $3)
FROM unnest($1::uuid[], $2::text[]) AS t(m, a)
WHERE meeting_id = t.m AND agency_id = t.a
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

READ_MEETING = "SELECT slot FROM meetings WHERE meeting_id = $1"
MEETING_ENDS = "SELECT meeting_id, ends_at FROM meetings WHERE meeting_id = ANY($1::uuid[])"
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
RECORDED_ANSWER = "SELECT answer, attendance FROM invitation_answers WHERE invitation_id = $1"
RECORD_ANSWER = """
INSERT INTO invitation_answers (invitation_id, meeting_id, agency_id, answer, attendance, answered_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (invitation_id) DO UPDATE SET answer = EXCLUDED.answer,
    attendance = EXCLUDED.attendance, answered_at = EXCLUDED.answered_at
"""

def _agenda_row(row: Any) -> AgendaRow:
    return AgendaRow(row["situation_id"], row["priority"], row["opened_at"], row["summary"])


def _invitations(meeting_id: UUID, rows: Sequence[Any]) -> MeetingInvitations:
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


class ConveningTimers:
    """convening's timers (:class:`~services.convening.timers.Timer`) as rows of the runtime's
    durable timers, through ``timer_store``: the timer half of the
    :class:`~services.convening.ports.ConveningStore`, shared by every implementation of it."""

    timer_store: TimerStore

    async def insert_timers(self, timers: Sequence[Timer], now: datetime) -> None:
        """Start timers; one already started (same key) is left as it is."""
        await self.timer_store.insert([as_row(t) for t in timers], now)

    async def pending_timers(self, aggregate_id: UUID) -> list[Timer]:
        """The pending timers of a situation or meeting."""
        return [from_row(t) for t in await self.timer_store.pending(aggregate_id)]

    async def settle_timers(self, keys: Sequence[str], state: Settled, now: datetime) -> None:
        """Mark pending timers ``fired`` or ``cancelled``."""
        await self.timer_store.settle(keys, state, now)

    async def arm_agenda_timer(self, meeting_id: UUID, due_at: datetime, now: datetime) -> None:
        """Make the meeting's agenda timer pending again at ``due_at`` (the earlier, if pending);
        a parked timer stays parked; one the loop is firing now is left to it (it waits for the
        placement lock the caller holds, then issues or waits for what this placement noted)."""
        await self.timer_store.arm(as_row(agenda_timer(meeting_id, due_at)), now,
                                   unless_firing=True)


class PgConveningStore(ConveningTimers):
    """The :class:`~services.convening.ports.ConveningStore` on PostgreSQL, in the transaction
    of ``conn`` (whose ``search_path`` is convening's schema); its timers in the runtime's
    ``durable_timers`` (:class:`~services.runtime.timers.PgTimerStore`)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.timer_store = PgTimerStore(conn)

    # -- situations ----------------------------------------------------------------------------

    async def lock_situation(self, situation_id: UUID, *,
                             nowait: bool = False) -> SituationState | None:
        """The situation's state, locked until the transaction ends; ``None`` if unknown.

        With ``nowait``, raise ``LockNotAvailableError`` instead of waiting for another holder.
        """
        raw = await self._conn.fetchval(LOCK_SITUATION_NOWAIT if nowait else LOCK_SITUATION,
                                        situation_id)
        return None if raw is None else SituationState.model_validate_json(raw)

    async def save_situation(self, state: SituationState, previous_version: int,
                             now: datetime) -> None:
        """Store ``state`` over the version it was decided from."""
        done = await self._conn.execute(SAVE_SITUATION, state.situation_id, state.model_dump_json(),
                                        state.version, now, previous_version)
        if done != "UPDATE 1":
            raise StaleState(f"situation {state.situation_id} changed under us")

    async def known_situations(self, situation_ids: Sequence[UUID]) -> set[UUID]:
        """Which of ``situation_ids`` are already stored."""
        return {r["situation_id"]
                for r in await self._conn.fetch(KNOWN_SITUATIONS, list(situation_ids))}

    async def agenda_rows(self, situation_ids: Sequence[UUID]) -> list[AgendaRow]:
        """Agenda data of the given situations (unknown ids are left out)."""
        return [_agenda_row(r) for r in await self._conn.fetch(AGENDA_ROWS, list(situation_ids))]

    async def agenda_rows_of(self, meeting_ids: Sequence[UUID]) -> list[AgendaRow]:
        """Agenda data of every stored situation on the meetings' agendas."""
        return [_agenda_row(r)
                for r in await self._conn.fetch(AGENDA_ROWS_OF_MEETINGS, list(meeting_ids))]

    # -- meetings and invitations (hold :meth:`lock_placement` throughout) -----------------------

    async def lock_placement(self, districts: Iterable[str]) -> None:
        """Serialize placement (meeting choice, creation, invitations, agenda issue) on the
        tables of ``districts`` until the transaction ends; the statements after it see every
        placement committed before on those tables. Other tables' placements go on."""
        await self._conn.fetchval(LOCK_PLACEMENT, sorted(set(districts)))

    async def meetings_in(self, windows: Sequence[tuple[str, datetime, datetime]],
                          capacity: int) -> list[Booked]:
        """The meetings of each ``(district, first, last)`` window (start in the closed
        interval), with their situation count and, for those with room, invited agencies."""
        rows = await self._conn.fetch(MEETINGS_IN_WINDOWS, [w[0] for w in windows],
                                      [w[1] for w in windows], [w[2] for w in windows], capacity)
        return [Booked(MeetingSlot.model_validate_json(r["slot"]), int(r["situation_count"]),
                       tuple(r["invited"])) for r in rows]

    async def read_meeting(self, meeting_id: UUID) -> MeetingSlot | None:
        """The meeting, if it exists."""
        raw = await self._conn.fetchval(READ_MEETING, meeting_id)
        return None if raw is None else MeetingSlot.model_validate_json(raw)

    async def meeting_ends(self, meeting_ids: Sequence[UUID]) -> dict[UUID, datetime]:
        """When each stored meeting is planned to end (``MeetingScheduled.ends_at``)."""
        return {r["meeting_id"]: r["ends_at"]
                for r in await self._conn.fetch(MEETING_ENDS, list(meeting_ids))}

    async def record_booking(self, *, situations: Sequence[NewSituation] = (),
                             meetings: Sequence[NewMeeting] = (),
                             joined: Sequence[tuple[UUID, UUID, Joining]] = ()) -> None:
        """Record a batch's placements in one statement (:data:`RECORD_BOOKING`)."""
        if not (situations or meetings or joined):
            return
        states = [s.state for s in situations]
        slots = [m.slot for m in meetings]
        added = Counter(mid for mid, _, _ in joined)
        created = {s.meeting_id for s in slots}
        stored = [mid for mid in added if mid not in created]  # the others' counts are inserted
        new = [(mid, i) for mid, _, j in joined for i in j.new]
        entries = [(mid, sid, a, e) for mid, sid, j in joined for a, e in j.entries]
        await self._conn.execute(
            RECORD_BOOKING,
            [s.situation_id for s in states], [s.district for s in states],
            [s.priority for s in states], [s.opened_at for s in states],
            [s.summary_json for s in situations], [s.model_dump_json() for s in states],
            [s.version for s in states],
            [s.meeting_id for s in slots], [s.district for s in slots],
            [s.kind.value for s in slots], [s.starts_at for s in slots],
            [m.ends_at for m in meetings], [s.model_dump_json() for s in slots],
            [s.scheduled_at for s in slots], [added[s.meeting_id] for s in slots],
            stored, [added[mid] for mid in stored],
            [m for m, _ in new], [i.agency_id for _, i in new],
            [i.invitation_id for _, i in new], [i.name for _, i in new],
            [m for m, _, _, _ in entries], [a for _, _, a, _ in entries],
            [s for _, s, _, _ in entries], [",".join(e.reasons) for *_, e in entries],
            [",".join(e.matched_categories) for *_, e in entries], [e.why for *_, e in entries])

    async def load_invitations(self, meeting_id: UUID) -> MeetingInvitations:
        """Every invitation of the meeting with the situations each participant is invited for."""
        return _invitations(meeting_id, await self._conn.fetch(LOAD_INVITATIONS, meeting_id))

    async def load_invitations_of(self, meeting_ids: Sequence[UUID]) -> dict[UUID, MeetingInvitations]:
        """:meth:`load_invitations` of several meetings at once (every id has an entry)."""
        rows = await self._conn.fetch(LOAD_INVITATIONS_MANY, list(meeting_ids))
        by_meeting: dict[UUID, list[Any]] = {mid: [] for mid in meeting_ids}
        for r in rows:
            by_meeting[r["meeting_id"]].append(r)
        return {mid: _invitations(mid, rs) for mid, rs in by_meeting.items()}

    async def invitation(self, meeting_id: UUID, invitation_id: UUID) -> Found:
        """``(meeting start, invited agency or None)``, or ``None`` when there is no such meeting."""
        row = await self._conn.fetchrow(INVITATION, meeting_id, invitation_id)
        return None if row is None else (row["starts_at"], row["agency_id"])

    async def record_answer(self, invitation_id: UUID, meeting_id: UUID, agency_id: str,
                            answer: str, attendance: str | None, now: datetime) -> None:
        """Record (or replace) a participant's answer to its invitation."""
        await self._conn.execute(RECORD_ANSWER, invitation_id, meeting_id, agency_id, answer,
                                 attendance, now)

    async def recorded_answer(self, invitation_id: UUID) -> tuple[str, str | None] | None:
        """The answer and attendance last recorded for the invitation (``None``: none)."""
        row = await self._conn.fetchrow(RECORDED_ANSWER, invitation_id)
        return None if row is None else (row["answer"], row["attendance"])

    # -- agendas issued --------------------------------------------------------------------------

    async def issued_of(self, meeting_ids: Sequence[UUID]) -> dict[UUID, dict[str, Issued]]:
        """What each participant of the meetings last received (every id has an entry)."""
        out: dict[UUID, dict[str, Issued]] = {mid: {} for mid in meeting_ids}
        for r in await self._conn.fetch(ISSUED_MANY, list(meeting_ids)):
            out[r["meeting_id"]][r["agency_id"]] = Issued(
                int(r["revision"]), r["issued_at"], frozenset(r["items"]), bool(r["pending"]))
        return out

    async def record_issued_many(self, issued: Mapping[tuple[UUID, str], tuple[int, Sequence[UUID]]],
                                 now: datetime) -> None:
        """Remember the revision and situations last issued per ``(meeting_id, agency_id)``; any
        change that waited is now issued."""
        if issued:
            keys = list(issued)
            await self._conn.execute(
                RECORD_ISSUED_MANY, [m for m, _ in keys], [a for _, a in keys],
                [issued[k][0] for k in keys], [",".join(str(s) for s in issued[k][1]) for k in keys],
                now)

    async def mark_pending(self, waiting: Sequence[tuple[UUID, str]], now: datetime) -> None:
        """Note that these participants' agendas changed and their update waits for the window."""
        if waiting:
            await self._conn.execute(MARK_PENDING, [m for m, _ in waiting],
                                     [a for _, a in waiting], now)
