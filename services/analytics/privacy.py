"""Small-cell suppression: no count under 5 leaves analytics, in any export or chart."""

from __future__ import annotations

SMALL_CELL = 5
SUPPRESSED = "<5"
SUPPRESSED_MEASURE = "suppressed"
"""What a rate, median or percentile shows when it rests on a small count."""


def cell(count: int) -> str:
    """A count as exported: ``<5`` under the threshold, else the number."""
    return SUPPRESSED if count < SMALL_CELL else str(count)


def shown(count: int) -> int | None:
    """A count for a chart: ``None`` (drawn as suppressed) under the threshold."""
    return None if count < SMALL_CELL else count


def rate_allowed(numerator: int, denominator: int) -> bool:
    """Whether a rate may be shown: neither it, its basis nor its complement rests on < 5."""
    return min(numerator, denominator, denominator - numerator) >= SMALL_CELL
