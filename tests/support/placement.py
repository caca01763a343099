"""Convening's placement stepped the long way, as the reference that batch placement is held to
(``tests/unit/test_convening_placement.py``) and measured against (``bench/placement.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from directory.model import TableSettings
from services.convening.model import SituationBrief
from services.convening.placement import (
    Calendar,
    Missing,
    NoRoom,
    Participants,
    Placed,
    booked_after,
    place_one,
)


def stepwise(calendar: Calendar, tables: Mapping[str, TableSettings],
             briefs: Sequence[SituationBrief], capacity: int, participants: Participants,
             now: datetime) -> tuple[list[Placed], Calendar] | Missing | NoRoom:
    """Each situation walked past every full meeting one overflow at a time (no jumps), on a
    copy of the calendar the ones before it left (``booked_after``): what ``place_all`` decides,
    the slow way."""
    out: list[Placed] = []
    for b in briefs:
        placed = place_one(calendar, tables[b.district], b, capacity, participants, now)
        if not isinstance(placed, Placed):
            return placed
        out.append(placed)
        calendar = booked_after(calendar, placed)
    return out, calendar
