"""Which meeting a situation goes to (pure; ``now`` and arrival times are passed in).

A regular meeting does not happen on the table's own closures (the directory's ``skip_dates``)
nor on an Ontario statutory holiday or its observed weekday (:mod:`schemas.reference.calendar`).

Regular meetings follow the district table's cadence in America/Toronto wall-clock time, so a
09:30 meeting stays at 09:30 across daylight-saving changes; cut-offs are measured in elapsed
hours. A wall-clock time that does not exist on a spring-forward day (02:00-03:00) lands an hour
later, as :mod:`zoneinfo` resolves it; an ambiguous one in November is its first occurrence.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from directory.model import TIMEZONE, Cadence, TableSettings
from schemas.errors import ConfigurationError
from schemas.reference.calendar import STATUTORY_HOLIDAYS, local_date
from services.convening.model import MeetingKind, MeetingSlot, SituationBrief, deterministic_uuid7

LOCAL = ZoneInfo(TIMEZONE)
URGENT_WINDOW = timedelta(hours=24)
_MAX_SKIPPED = 520
"""Ten years of weekly meetings: a cadence that skips more has a configuration error."""


@dataclass(frozen=True, slots=True)
class Placement:
    """The meeting a situation goes to; ``new`` when convening must schedule it now."""

    meeting: MeetingSlot
    new: bool


def meeting_start(day: date, cadence: Cadence) -> datetime:
    """The UTC instant of the regular meeting on local date ``day``."""
    return datetime.combine(day, cadence.local_time, tzinfo=LOCAL).astimezone(UTC)


def cadence_dates(cadence: Cadence, start: date,
                  holidays: Container[date] = STATUTORY_HOLIDAYS) -> Iterator[date]:
    """The cadence's meeting dates on or after ``start``, closures and holidays left out."""
    step = 14 if cadence.frequency == "biweekly" else 7
    anchor = cadence.anchor_date
    if anchor is None:
        day = start + timedelta(days=(cadence.weekday.number - start.weekday()) % 7)
    else:
        day = anchor + timedelta(days=math.ceil((start - anchor).days / step) * step)
    skipped = 0
    while True:
        if cadence.closed(day) or day in holidays:
            skipped += 1
            if skipped > _MAX_SKIPPED:
                raise ConfigurationError("the table's cadence skips every meeting date")
        else:
            yield day
        day += timedelta(days=step)


def regular_starts(cadence: Cadence, after: datetime) -> Iterator[datetime]:
    """Start instants (UTC) of regular meetings strictly after ``after``, in order."""
    for day in cadence_dates(cadence, local_date(after) - timedelta(days=1)):
        start = meeting_start(day, cadence)
        if start > after:
            yield start


def regular_meeting(table: TableSettings, starts_at: datetime, scheduled_at: datetime) -> MeetingSlot:
    """The regular meeting of ``table`` at ``starts_at``, with its deterministic id."""
    return MeetingSlot(
        meeting_id=deterministic_uuid7(starts_at, table.district, "regular", starts_at.isoformat()),
        district=table.district,
        kind=MeetingKind.REGULAR,
        starts_at=starts_at,
        location=table.location,
        scheduled_at=scheduled_at,
    )


def next_regular_meeting(table: TableSettings, arrival: datetime) -> datetime:
    """The first regular meeting at least ``cutoff_hours`` after ``arrival`` (UTC)."""
    cutoff = timedelta(hours=table.cutoff_hours)
    return next(s for s in regular_starts(table.cadence, arrival) if s - arrival >= cutoff)


def place_routine(
    table: TableSettings, situation: SituationBrief, existing: Iterable[MeetingSlot]
) -> Placement:
    """Place a routine situation on the first regular meeting whose cut-off it meets."""
    start = next_regular_meeting(table, situation.arrived_at)
    meeting = regular_meeting(table, start, situation.arrived_at)
    return _reuse(meeting, existing)


def place_urgent(
    table: TableSettings, situation: SituationBrief, existing: Iterable[MeetingSlot],
    full: Container[UUID] = frozenset(),
) -> Placement:
    """Place an urgent situation within 24 h.

    It joins the earliest meeting of its table with room (not in ``full``), already scheduled
    (ad-hoc or regular) or due by the cadence, that starts between ``urgent_notice_hours`` and
    24 h after arrival; otherwise an ad-hoc meeting is scheduled ``adhoc_delay_hours`` after
    arrival, rounded up to the half hour. So a burst of urgent situations while the day's
    meeting is full shares one ad-hoc meeting until that one is full too, instead of each
    opening its own (900 ad-hoc meetings of one table in a minute, issue 18).
    """
    arrival = situation.arrived_at
    earliest = arrival + timedelta(hours=table.urgent_notice_hours)
    latest = arrival + URGENT_WINDOW
    known = [m for m in existing if m.district == table.district]
    candidates = [m for m in known
                  if earliest <= m.starts_at <= latest and m.meeting_id not in full]
    for start in regular_starts(table.cadence, arrival):
        if start > latest:
            break
        if start >= earliest:
            meeting = regular_meeting(table, start, arrival)
            if meeting.meeting_id not in full:
                candidates.append(meeting)
    if candidates:
        chosen = min(candidates, key=lambda m: (m.starts_at, m.kind is MeetingKind.REGULAR))
        return _reuse(chosen, known)
    return Placement(adhoc_meeting(table, situation), new=True)


def adhoc_meeting(table: TableSettings, situation: SituationBrief) -> MeetingSlot:
    """The ad-hoc meeting of an urgent situation: ``adhoc_delay_hours`` after arrival, rounded up
    to the half hour; its id is derived from the situation, so it is that situation's own."""
    arrival = situation.arrived_at
    start = _round_up_half_hour(arrival + timedelta(hours=table.adhoc_delay_hours))
    return MeetingSlot(
        meeting_id=deterministic_uuid7(start, table.district, "adhoc", str(situation.situation_id)),
        district=table.district,
        kind=MeetingKind.ADHOC,
        starts_at=start,
        location=table.location,
        scheduled_at=arrival,
    )


def overflow(table: TableSettings, situation: SituationBrief, full: MeetingSlot) -> MeetingSlot:
    """Where a situation goes when ``full`` (the meeting it was placed on) has no room left.

    A routine situation goes to the next regular meeting; an urgent one to its own ad-hoc
    meeting (unless that is the one that is full, then to the next regular meeting).
    """
    if not overflows_to_regular(situation, full):
        return adhoc_meeting(table, situation)
    start = next(regular_starts(table.cadence, full.starts_at))
    return regular_meeting(table, start, situation.arrived_at)


def overflows_to_regular(situation: SituationBrief, full: MeetingSlot) -> bool:
    """Whether :func:`overflow` from ``full`` goes to the next regular meeting, the same meeting
    for every situation (all but an urgent situation on a full regular meeting)."""
    return not (situation.priority == "urgent" and full.kind is MeetingKind.REGULAR)


def place(table: TableSettings, situation: SituationBrief, existing: Iterable[MeetingSlot],
          full: Container[UUID] = frozenset()) -> Placement:
    """Place a situation by its priority; ``existing`` are the table's scheduled meetings, ``full``
    the ids of those with no room (an urgent situation passes them by)."""
    if table.district != situation.district:
        raise ValueError(f"situation of {situation.district!r} offered to {table.district!r}")
    if situation.priority == "urgent":
        return place_urgent(table, situation, existing, full)
    return place_routine(table, situation, existing)


def _reuse(meeting: MeetingSlot, existing: Iterable[MeetingSlot]) -> Placement:
    for known in existing:
        if known.meeting_id == meeting.meeting_id:
            return Placement(known, new=False)
    return Placement(meeting, new=True)


def _round_up_half_hour(at: datetime) -> datetime:
    base = at.replace(minute=0, second=0, microsecond=0)
    extra = at - base
    halves = math.ceil(extra / timedelta(minutes=30))
    return base + halves * timedelta(minutes=30)
