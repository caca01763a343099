"""Placing situations on meetings against what is booked (pure): capacity and overflow.

:mod:`~services.convening.scheduling` says which meeting a situation belongs to; this module
checks that meeting against a :class:`Calendar` (the meetings stored in some window of each
district, with how many situations each holds and who is invited) and moves a situation on to
the next meeting while the one it meets is full. :func:`place_all` places several situations in
order, each seeing the ones placed before it: placing a batch is folding :func:`place_one` over
it, so a batch decides exactly what the same situations one at a time would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from directory.model import TableSettings
from services.convening.invitations import Joining, join
from services.convening.model import MeetingSlot, Participant, SituationBrief
from services.convening.scheduling import (
    URGENT_WINDOW,
    next_regular_meeting,
    overflow,
    overflows_to_regular,
    place,
    regular_meeting,
)

MAX_OVERFLOW = 104
"""Full meetings skipped before giving up: two years of weekly meetings (four of biweekly ones).
Past that it is a configuration problem (capacity, cadence), not a busy table. A partner's
migration of 20,000 referrals fills 67 meetings of each of Halton's three tables (issue 18); 60
dead-lettered its last 2,000."""

WIDEN = timedelta(days=28)
"""How much further, at least, the calendar is read when placement needs a meeting beyond it."""

Participants = Callable[[SituationBrief, MeetingSlot], Sequence[Participant]]
"""Who a situation needs at a meeting (the directory's answer on the meeting's date)."""

Windows = dict[str, tuple[datetime, datetime]]
"""Per district, the ``(first, last)`` meeting starts a calendar read covers."""


@dataclass(frozen=True, slots=True)
class Booked:
    """A stored (or just created) meeting: its slot, situations held, agencies invited (as the
    store reads them: none for a full meeting, which placement never joins)."""

    slot: MeetingSlot
    situations: int
    invited: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Calendar:
    """What is known of the stored meetings.

    Attributes:
        windows: per district, ``(first, last)``: every meeting of the district starting in
            that closed interval is in ``meetings`` (absent there means it does not exist).
        meetings: the meetings in those windows, by id.
    """

    windows: Mapping[str, tuple[datetime, datetime]]
    meetings: Mapping[UUID, Booked]

    def covers(self, district: str, at: datetime) -> bool:
        """Whether every meeting of ``district`` starting at ``at`` is known."""
        window = self.windows.get(district)
        return window is not None and window[0] <= at <= window[1]

    def between(self, district: str, start: datetime, end: datetime) -> list[MeetingSlot]:
        """The district's known meetings starting in ``[start, end]``, in start order."""
        return sorted((b.slot for b in self.meetings.values()
                       if b.slot.district == district and start <= b.slot.starts_at <= end),
                      key=lambda s: s.starts_at)


def windows_for(tables: Mapping[str, TableSettings], briefs: Sequence[SituationBrief]) -> Windows:
    """The calendar to read first for ``briefs``: per district, from the earliest arrival to the
    latest of each brief's urgent window and next regular meeting (overflow may ask for more)."""
    windows: Windows = {}
    for b in briefs:
        last = max(b.arrived_at + URGENT_WINDOW, next_regular_meeting(tables[b.district], b.arrived_at))
        lo, hi = windows.get(b.district, (b.arrived_at, last))
        windows[b.district] = (min(lo, b.arrived_at), max(hi, last))
    return windows


def reaching(windows: Windows, reach: Mapping[str, datetime]) -> Windows:
    """``windows`` read on, per district, to ``reach`` (where the previous placements went) when
    that is further: at a busy table the meetings with room are weeks ahead, and the calendar
    from each situation's arrival to its next regular meeting was read and widened 4-5 times a
    batch before placement got there. Reading further never changes a placement (the calendar
    covers more, known as it is); it only spares the rounds of :class:`Missing`."""
    return {d: (lo, max(hi, reach.get(d, hi))) for d, (lo, hi) in windows.items()}


def reach_of(briefs: Sequence[SituationBrief], placed: Sequence[Placed]) -> dict[str, datetime]:
    """Per district, the latest meeting start of the routine situations of ``briefs`` as
    ``placed`` (in the same order): how far the next read should go. Urgent ones are left out:
    they go within a day whatever the routine backlog, and would pull the read back."""
    reach: dict[str, datetime] = {}
    for b, p in zip(briefs, placed, strict=True):
        d, at = p.meeting.district, p.meeting.starts_at
        if b.priority != "urgent" and (d not in reach or at > reach[d]):
            reach[d] = at
    return reach


def widened(windows: Windows, missing: Missing) -> Windows:
    """``windows`` grown to cover what placement found ``missing``, and beyond it by the
    window's length (at least :data:`WIDEN`), so a long overflow reads a few times, not once per
    meeting."""
    lo, hi = windows[missing.district]
    return {**windows, missing.district: (min(lo, missing.at),
                                          max(hi, missing.at) + max(hi - lo, WIDEN))}


@dataclass(frozen=True, slots=True)
class Missing:
    """The calendar does not cover ``at`` in ``district``: read more of it and place again."""

    district: str
    at: datetime


@dataclass(frozen=True, slots=True)
class NoRoom:
    """:data:`MAX_OVERFLOW` meetings in a row are full for ``situation_id``."""

    situation_id: UUID


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a situation goes: the meeting (``created`` when this placement schedules it) and
    the invitations and agenda entries it adds there."""

    situation_id: UUID
    meeting: MeetingSlot
    created: bool
    joining: Joining
    participants: tuple[Participant, ...]


def place_one(calendar: Calendar, table: TableSettings, brief: SituationBrief, capacity: int,
              participants: Participants, now: datetime,
              jumps: Jumps | None = None) -> Placed | Missing | NoRoom:
    """Place one situation: the meeting :func:`~services.convening.scheduling.place` chooses (an
    urgent situation passes by the full meetings of its window), or while that one is full
    (``capacity`` situations) the one it overflows to.

    ``jumps`` (kept by :func:`place_all` for one calendar) remembers where earlier walks past
    full meetings ended: a meeting that is full stays full while its calendar only gains
    situations, so a later walk from it starts where the last one stopped, counting the same
    steps towards :data:`MAX_OVERFLOW`."""
    district = table.district
    existing: list[MeetingSlot] = []
    full: set[UUID] = set()
    if brief.priority != "routine":  # a routine meeting has a deterministic id: nothing to look up
        end = brief.arrived_at + URGENT_WINDOW
        if not (calendar.covers(district, brief.arrived_at) and calendar.covers(district, end)):
            return Missing(district, end)
        existing = calendar.between(district, brief.arrived_at, end)
        full = {m.meeting_id for m in existing
                if calendar.meetings[m.meeting_id].situations >= capacity}
    candidate = place(table, brief, existing, full).meeting
    walked: list[tuple[UUID, int]] = []  # full meetings on a walk the same for any situation
    step = 0
    while step < MAX_OVERFLOW:
        if not calendar.covers(district, candidate.starts_at):
            _remember(jumps, walked, candidate.starts_at, step)
            return Missing(district, candidate.starts_at)
        booked = calendar.meetings.get(candidate.meeting_id)
        if booked is None or booked.situations < capacity:
            _remember(jumps, walked, candidate.starts_at, step)
            slot, invited = (candidate, ()) if booked is None else (booked.slot, booked.invited)
            who = tuple(participants(brief, slot))
            return Placed(brief.situation_id, slot, booked is None,
                          join(slot.meeting_id, invited, brief.situation_id, who, now), who)
        if not overflows_to_regular(brief, booked.slot):
            walked.clear()
            candidate, step = overflow(table, brief, booked.slot), step + 1
            continue
        walked.append((booked.slot.meeting_id, step))
        jump = None if jumps is None else jumps.get(booked.slot.meeting_id)
        if jump is None:
            candidate, step = overflow(table, brief, booked.slot), step + 1
        else:
            candidate, step = regular_meeting(table, jump[0], brief.arrived_at), step + jump[1]
    return NoRoom(brief.situation_id)


Jumps = dict[UUID, tuple[datetime, int]]
"""A full meeting -> the start of the regular meeting a walk from it reached, and in how many
steps (:func:`place_one`)."""


def _remember(jumps: Jumps | None, walked: Sequence[tuple[UUID, int]], reached: datetime,
              step: int) -> None:
    if jumps is not None:
        for meeting_id, at in walked:
            jumps[meeting_id] = (reached, step - at)


def booked_after(calendar: Calendar, placed: Placed) -> Calendar:
    """The calendar once ``placed`` is booked: one more situation, its new invitations."""
    mid = placed.meeting.meeting_id
    return Calendar(calendar.windows, {**calendar.meetings, mid: _booked(calendar, placed)})


def _booked(calendar: Calendar, placed: Placed) -> Booked:
    before = calendar.meetings.get(placed.meeting.meeting_id, Booked(placed.meeting, 0, ()))
    return replace(before, situations=before.situations + 1,
                   invited=(*before.invited, *(i.agency_id for i in placed.joining.new)))


def place_all(calendar: Calendar, tables: Mapping[str, TableSettings],
              briefs: Sequence[SituationBrief], capacity: int, participants: Participants,
              now: datetime) -> tuple[list[Placed], Calendar] | Missing | NoRoom:
    """Place ``briefs`` in order, each on the calendar the ones before it left (what
    :func:`booked_after` gives, built in place); the first :class:`Missing` or :class:`NoRoom`
    stops it (nothing of the batch is placed then)."""
    meetings = dict(calendar.meetings)  # this call's own copy, grown as the batch books
    grown = Calendar(calendar.windows, meetings)
    jumps: Jumps = {}
    out: list[Placed] = []
    for brief in briefs:
        placed = place_one(grown, tables[brief.district], brief, capacity, participants, now,
                           jumps)
        if not isinstance(placed, Placed):
            return placed
        out.append(placed)
        meetings[placed.meeting.meeting_id] = _booked(grown, placed)
    return out, grown
