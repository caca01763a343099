"""Benchmark: convening's placement of a backlog on filling meetings (``place_all``), pure CPU.

Run: ``.venv/bin/python -m bench.placement [--situations N] [--record]`` (no stack needed).

A partner's migration as convening places it: N routine situations of Halton's three tables
(the directory's cadences, a meeting's capacity 100) arriving a second apart, placed in consumer
batches of 500 on the calendar the batches before them left, so later situations walk past
dozens of full meetings. The baseline of the same run places the same situations by stepping one
overflow at a time (``tests.support.placement.stepwise``: ``place_one`` without the batch's
jumps, and ``booked_after`` copying the calendar per situation: what ``place_all`` did before).
Both give the same placements (checked here and by ``tests/unit/test_convening_placement.py``).
Figures: microseconds of CPU per situation, the median of 3 timings; the ratio batch / step by
step.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from uuid6 import uuid7

from bench.common import record
from directory.loader import load_directory
from directory.model import TableSettings
from services.convening.model import InviteReason, MeetingSlot, Participant, SituationBrief
from services.convening.placement import (
    Calendar,
    Missing,
    NoRoom,
    Placed,
    place_all,
)
from tests.support.placement import stepwise

DIRECTORY = Path(__file__).resolve().parents[1] / "deploy" / "directory" / "halton.yaml"
NOW = datetime(2031, 1, 6, 15, tzinfo=UTC)
BATCH = 500
CAPACITY = 100
Placement = tuple[list[Placed], Calendar] | Missing | NoRoom


CMB = (Participant(agency_id="police", name="CMB", reasons=(InviteReason.DISTRICT_CMB,)),)


def who(brief: SituationBrief, slot: MeetingSlot) -> Sequence[Participant]:
    return CMB


def backlog(tables: Sequence[str], n: int) -> list[SituationBrief]:
    return [SituationBrief(situation_id=uuid7(), district=tables[i % len(tables)],
                           originating_agency="police", priority="routine",
                           arrived_at=NOW + timedelta(seconds=i), risk_categories=("housing",))
            for i in range(n)]


def run(tables: dict[str, TableSettings], briefs: Sequence[SituationBrief],
        place: Callable[[Calendar, Sequence[SituationBrief]], Placement]
        ) -> tuple[float, list[Placed]]:
    """CPU microseconds per situation, and the placements."""
    calendar = Calendar({d: (NOW, NOW + timedelta(days=3650)) for d in tables}, {})
    out: list[Placed] = []
    began = time.process_time()
    for i in range(0, len(briefs), BATCH):
        result = place(calendar, briefs[i:i + BATCH])
        if not isinstance(result, tuple):
            raise SystemExit(f"placement stopped: {result} (fewer situations: --situations)")
        placed, calendar = result
        out += placed
    return (time.process_time() - began) / len(briefs) * 1e6, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--situations", type=int, default=12_000,
                        help="routine situations in the backlog (default 12000: 40 meetings "
                             "of each table; more than 60 walk past MAX_OVERFLOW)")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    tables = {t.district: t for t in load_directory(DIRECTORY).tables}
    briefs = backlog(sorted(tables), args.situations)

    def batched(calendar: Calendar, part: Sequence[SituationBrief]) -> Placement:
        return place_all(calendar, tables, part, CAPACITY, who, NOW)

    def stepped(calendar: Calendar, part: Sequence[SituationBrief]) -> Placement:
        return stepwise(calendar, tables, part, CAPACITY, who, NOW)

    fast, slow = [], []
    for _ in range(3):
        us, got = run(tables, briefs, batched)
        fast.append(us)
        us, want = run(tables, briefs, stepped)
        slow.append(us)
        assert got == want, "the batch placed differently from stepping one overflow at a time"
    f, s = statistics.median(fast), statistics.median(slow)
    lines = [f"- {args.situations:,} routine situations, {len(tables)} tables, capacity "
             f"{CAPACITY}, batches of {BATCH}: "
             f"{max(1, args.situations // len(tables) // CAPACITY)} meetings of each table filled",
             f"- place_all (jumps, calendar booked in place): **{f:,.1f} us** per situation "
             f"(runs: {', '.join(f'{x:,.1f}' for x in fast)})",
             f"- baseline, one overflow at a time and a calendar copy per situation: "
             f"**{s:,.1f} us** (runs: {', '.join(f'{x:,.1f}' for x in slow)})",
             f"- ratio batch / baseline: **{f / s:.2f}**"]
    print("\n".join(lines))
    if args.record:
        record("convening's placement of a backlog (issue 18 item 3): `bench/placement.py`",
               "place_all on a partner's migration against stepping each situation one "
               "overflow at a time, same situations, same run (medians of 3, CPU time).",
               f"python -m bench.placement --situations {args.situations} --record", lines)


if __name__ == "__main__":
    main()
