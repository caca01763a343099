"""Statistics over the folded situations: counts by dimension, mobilization time, SLA, assignments.

Pure: :func:`summarize` is a function of the facts (order does not matter). Definitions (also in
the data dictionary):

* counts by district, month (Halton local month of ``opened_at``), month by district and Filter 2
  decision count **situations seen**;
* counts by conclusion count **closed situations** (concluded, rejected or returned);
* counts by risk category count situations with at least one factor in the category, and counts
  by age group count **persons concerned**, both over situations *not* rejected as not AER (their
  factors and persons are redacted, as in the provincial database);
* service mobilization time is AER confirmed → first contact, in hours, over situations with
  both; the median is the usual one (mean of the middle two for an even count); the p90 is the
  nearest-rank percentile (the ⌈0.9·n⌉-th smallest value);
* SLA breach rate = AER-confirmed situations with at least one ``SlaBreached`` / AER-confirmed
  situations;
* assignment acceptance rate = assignments whose first answer was ``accepted`` / assignments
  answered (an assignment still ``requested`` is not answered yet).
"""

from __future__ import annotations

import math
import statistics as pystats
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from services.analytics.projections.facts import SituationFacts
from services.analytics.projections.provincial import HALTON, UNKNOWN

TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("district", ("district",)),
    ("month", ("month",)),
    ("month_district", ("month", "district")),
    ("decision", ("decision",)),
    ("conclusion", ("conclusion",)),
    ("risk_category", ("risk_category",)),
    ("age_group", ("age_group",)),
)
"""Every count table: its name and the names of its key columns."""


@dataclass(frozen=True, slots=True)
class Statistics:
    """The statistics of a replayed range (raw counts: suppress before showing them)."""

    situations: int
    counts: Mapping[str, Mapping[tuple[str, ...], int]]
    mobilization_hours: tuple[float, ...] = ()
    """Every mobilization time, sorted ascending."""
    aer_confirmed: int = 0
    sla_breached: int = 0
    sla_breached_by_kind: Mapping[str, int] = field(default_factory=dict)
    assignments: int = 0
    assignments_answered: int = 0
    assignments_accepted: int = 0

    @property
    def mobilization_median(self) -> float | None:
        """Median mobilization time in hours (``None`` without data)."""
        return pystats.median(self.mobilization_hours) if self.mobilization_hours else None

    @property
    def mobilization_p90(self) -> float | None:
        """Nearest-rank 90th percentile of mobilization time in hours."""
        return percentile(self.mobilization_hours, 90)

    @property
    def sla_breach_rate(self) -> float | None:
        """Share of AER-confirmed situations with a breach."""
        return _rate(self.sla_breached, self.aer_confirmed)

    @property
    def acceptance_rate(self) -> float | None:
        """Share of answered assignments accepted at first answer."""
        return _rate(self.assignments_accepted, self.assignments_answered)


def percentile(sorted_values: tuple[float, ...], p: int) -> float | None:
    """The nearest-rank ``p``-th percentile of already sorted values (``None`` when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def month_of(f: SituationFacts) -> str:
    """``YYYY-MM`` of the opening in Halton local time, or ``unknown``."""
    if f.opened_at is None:
        return UNKNOWN
    return f.opened_at.astimezone(HALTON).strftime("%Y-%m")


def summarize(facts: Iterable[SituationFacts]) -> Statistics:
    """The statistics of ``facts`` (every situation seen in the range)."""
    counts: dict[str, Counter[tuple[str, ...]]] = {name: Counter() for name, _ in TABLES}
    hours: list[float] = []
    total = confirmed = breached = assignments = answered = accepted = 0
    by_kind: Counter[str] = Counter()
    for f in facts:
        total += 1
        district = f.district or UNKNOWN
        month = month_of(f)
        counts["district"][(district,)] += 1
        counts["month"][(month,)] += 1
        counts["month_district"][(month, district)] += 1
        counts["decision"][(f.decision or "pending",)] += 1
        conclusion = f.final_conclusion
        if conclusion is not None:
            counts["conclusion"][(conclusion,)] += 1
        if not f.rejected:
            for category in sorted({code.split(".", 1)[0] for code in f.risk_factors}):
                counts["risk_category"][(category,)] += 1
            for age_group, _gender in f.persons:
                counts["age_group"][(age_group,)] += 1
        if f.confirmed_at is not None:
            confirmed += 1
            if f.sla_breaches:
                breached += 1
                for kind in set(f.sla_breaches):
                    by_kind[kind] += 1
        mobilization = f.mobilization_hours
        if mobilization is not None:
            hours.append(mobilization)
        assignments += len(f.assigned)
        answered += len(f.first_answers)
        accepted += sum(1 for _, state in f.first_answers if state == "accepted")
    return Statistics(
        situations=total,
        counts={name: dict(sorted(c.items())) for name, c in counts.items()},
        mobilization_hours=tuple(sorted(hours)),
        aer_confirmed=confirmed, sla_breached=breached,
        sla_breached_by_kind=dict(sorted(by_kind.items())),
        assignments=assignments, assignments_answered=answered, assignments_accepted=accepted,
    )
