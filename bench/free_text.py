"""Benchmark: the free-text checks of Filter 1 (``schemas.free_text.check_text``), pure CPU.

Run: ``.venv/bin/python -m bench.free_text [--repeat N] [--record]`` (no stack needed).

Each text is checked as a referral's narrative is (with the subject's names to look for): the
narratives of ``deploy/samples/referrals/*.json`` and two longer ones. The ASCII text takes the
fast path (it is its own normal form and skeleton, ``schemas/free_text.py``); the baseline of the
same run is the same text with one accented letter appended (``é``: the same words, and the full
per-character path: format characters dropped, NFKC, dashes and spaces folded, marks stripped,
lookalike letters read as Latin). Figures: microseconds per check, the median of 3 timings, each
the best of ``--repeat`` loops; the ratio fast / full.
"""

from __future__ import annotations

import argparse
import json
import statistics
from functools import partial

from bench.common import SAMPLES, per_call_us, record
from schemas.free_text import check_text
from services.intake.deidentify import NARRATIVE

NAMES = ("Avery Synthetic-Example", "Quillonet Zebrowsky")
LONG = (
    "Repeated crisis contacts this month; eviction notice served; no treatment in place. "
    "Neighbours report shouting at night, two young children in the home, food insecurity and "
    "missed school days since September. The landlord has asked the police to attend twice; "
    "the school social worker and the family doctor both raised concerns at the last review."
)


def texts() -> list[tuple[str, str]]:
    """(name, text) of every narrative the bench checks."""
    found = [(path.stem, str(json.loads(path.read_text())["summary"]["narrative"]))
             for path in sorted(SAMPLES.glob("*.json"))]
    return [*found, ("long-4-sentences", LONG), ("long-x3", " ".join([LONG] * 3))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="loops per timing (best kept)")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    lines = ["| text | characters | fast path (ASCII), us | full path (+ \"é\"), us | ratio |",
             "|---|---|---|---|---|"]
    ratios = []
    for name, text in texts():
        assert text.isascii(), name
        fast = per_call_us(partial(check_text, text, NARRATIVE, NAMES), number=200,
                           repeat=args.repeat)
        full = per_call_us(partial(check_text, text + " é", NARRATIVE, NAMES), number=200,
                           repeat=args.repeat)
        ratios.append(fast / full)
        lines.append(f"| {name} | {len(text)} | {fast:,.1f} | {full:,.1f} | {fast / full:.2f} |")
    lines.append(f"- median ratio fast / full: **{statistics.median(ratios):.2f}**")
    print("\n".join(lines))
    if args.record:
        record("Filter 1's free-text checks: the ASCII fast path (issue 18 item 3)",
               "check_text on referral narratives, the ASCII fast path against the full "
               "per-character path on the same text in the same run (medians of 3).",
               f"python -m bench.free_text --repeat {args.repeat} --record", lines)


if __name__ == "__main__":
    main()
