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
  answered (an assignment still ``requested`` is not answered yet);
* situation type, originating sector (the originating agency's type in the directory) and lead
  sector (the latest lead's type; ``none`` before one is named) count **situations seen**;
* assisting sectors, protective factors, study flags and services mobilized count situations
  *not* rejected naming each (one situation may count under several), gender counts **persons
  concerned** like age group, and the numbers of risk factors and of risk categories count
  situations not rejected by how many they name;
* SLA warnings and breaches by district count situations with at least one warning / breach;
* times from opening to the Filter 2 decision, to the first contact and to the conclusion are in
  hours, over the situations that reached that step (decision: the current one, after a
  reopening).
"""

from __future__ import annotations

import math
import statistics as pystats
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, TypeVar

from services.analytics.projections.event_requests import RequestStatistics
from services.analytics.projections.facts import Draft, SituationFacts
from services.analytics.projections.provincial import HALTON, UNKNOWN

TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("district", ("district",)),
    ("month", ("month",)),
    ("month_district", ("month", "district")),
    ("decision", ("decision",)),
    ("conclusion", ("conclusion",)),
    ("risk_category", ("risk_category",)),
    ("age_group", ("age_group",)),
    ("gender", ("gender",)),
    ("situation_type", ("situation_type",)),
    ("originating_sector", ("originating_sector",)),
    ("lead_sector", ("lead_sector",)),
    ("assisting_sector", ("assisting_sector",)),
    ("risk_factor_count", ("risk_factor_count",)),
    ("risk_category_count", ("risk_category_count",)),
    ("protective_factor", ("protective_factor",)),
    ("study_flag", ("study_flag",)),
    ("service_mobilized", ("service_mobilized",)),
    ("sla_warning_district", ("district",)),
    ("sla_breach_district", ("district",)),
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
    not_rejected: int = 0
    """Situations not rejected as not AER (the base of the risk and person tables)."""
    persons: int = 0
    """Persons concerned in situations not rejected."""
    closed: int = 0
    """Situations with a conclusion (concluded, rejected or returned)."""
    sla_warned: int = 0
    """AER-confirmed situations with at least one SLA warning."""
    decision_hours: tuple[float, ...] = ()
    """Opening to the Filter 2 decision, hours, sorted."""
    contact_hours: tuple[float, ...] = ()
    """Opening to the first contact, hours, sorted."""
    conclusion_hours: tuple[float, ...] = ()
    """Opening to the conclusion, hours, sorted."""

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


Counted = TypeVar("Counted", bound="Statistics | RequestStatistics")


def merge(a: Counted, b: Counted) -> Counted:
    """The statistics of two disjoint sets of situations (or requests) as one summary of both.

    Field by field, by what the field holds: counts add; sorted values (hours) merge, sorted;
    a table (key → count) adds key by key, in sorted key order as :func:`summarize` gives it;
    a mapping of tables keeps ``a``'s order of tables. ``merge(summarize(x), summarize(y))``
    equals ``summarize(x + y)`` for disjoint ``x`` and ``y``.
    """
    return replace(a, **{f.name: _merged(getattr(a, f.name), getattr(b, f.name))
                         for f in fields(a)})


def _merged(a: Any, b: Any) -> Any:
    if isinstance(a, int):
        return a + b
    if isinstance(a, tuple):
        return tuple(sorted(a + b))
    if all(isinstance(v, int) for v in (*a.values(), *b.values())):
        return {k: a.get(k, 0) + b.get(k, 0) for k in sorted(a.keys() | b.keys())}
    return {name: _merged(a.get(name, {}), b.get(name, {})) for name in dict.fromkeys([*a, *b])}


def percentile(sorted_values: tuple[float, ...], p: int) -> float | None:
    """The nearest-rank ``p``-th percentile of already sorted values (``None`` when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def month_of(f: SituationFacts | Draft) -> str:
    """``YYYY-MM`` of the opening in Halton local time, or ``unknown``."""
    if f.opened_at is None:
        return UNKNOWN
    return f.opened_at.astimezone(HALTON).strftime("%Y-%m")


NO_LEAD = "none"
COUNT_BINS: tuple[str, ...] = ("0-1", "2", "3", "4", "5+")
"""How situations are grouped by their number of risk factors or categories."""


def count_bin(n: int) -> str:
    """The :data:`COUNT_BINS` label of ``n``."""
    return "0-1" if n <= 1 else "5+" if n >= 5 else str(n)


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds() / 3600.0


def summarize(facts: Iterable[SituationFacts | Draft],
              agency_types: Mapping[str, str] | None = None) -> Statistics:
    """The statistics of ``facts`` (every situation seen in the range).

    Args:
        facts: the folded facts of every situation seen (or a replay's drafts of them).
        agency_types: agency slug → agency type (the directory); unknown slugs count as
            ``unknown``.
    """
    types = agency_types or {}
    counts: dict[str, Counter[tuple[str, ...]]] = {name: Counter() for name, _ in TABLES}
    hours: list[float] = []
    steps: dict[str, list[float]] = {"decision": [], "contact": [], "conclusion": []}
    total = confirmed = breached = assignments = answered = accepted = 0
    not_rejected = persons = closed = warned = 0
    by_kind: Counter[str] = Counter()
    # The tables and lists as locals, and each UTC hour's month computed once (Halton's offset
    # and its month change on whole UTC hours): a replay summarizes tens of thousands of these.
    (by_district, by_month, by_month_district, by_decision, by_conclusion, by_risk_category,
     by_age_group, by_gender, by_situation_type, by_originating, by_lead, by_assisting,
     by_risk_factor_count, by_risk_category_count, by_protective, by_study_flag, by_service,
     by_warning_district, by_breach_district) = (counts[name] for name, _ in TABLES)
    decision_hours, contact_hours, conclusion_hours = (
        steps["decision"], steps["contact"], steps["conclusion"])
    months: dict[float, str] = {}
    for f in facts:
        total += 1
        district = f.district or UNKNOWN
        opened = f.opened_at
        if opened is None:
            month = UNKNOWN
        else:
            hour = opened.timestamp() // 3600
            month = months.get(hour) or months.setdefault(hour, month_of(f))
        by_district[(district,)] += 1
        by_month[(month,)] += 1
        by_month_district[(month, district)] += 1
        by_decision[(f.decision or "pending",)] += 1
        conclusion = f.final_conclusion
        if conclusion is not None:
            by_conclusion[(conclusion,)] += 1
            closed += 1
        by_situation_type[(f.situation_type or UNKNOWN,)] += 1
        by_originating[(types.get(f.originating_agency or "", UNKNOWN),)] += 1
        lead = NO_LEAD if f.lead_agency is None else types.get(f.lead_agency, UNKNOWN)
        by_lead[(lead,)] += 1
        if not (f.decision == "rejected" or conclusion == "rejected_not_aer"):  # f.rejected
            not_rejected += 1
            categories = {code.split(".", 1)[0] for code in f.risk_factors}
            for category in categories:
                by_risk_category[(category,)] += 1
            by_risk_factor_count[(count_bin(len(set(f.risk_factors))),)] += 1
            by_risk_category_count[(count_bin(len(categories)),)] += 1
            for age_group, gender in f.persons:
                by_age_group[(age_group,)] += 1
                by_gender[(gender,)] += 1
                persons += 1
            for sector in {types.get(a, UNKNOWN) for a in f.assisting_agencies}:
                by_assisting[(sector,)] += 1
            for code in set(f.protective_factors):
                by_protective[(code,)] += 1
            for code in set(f.study_flags):
                by_study_flag[(code,)] += 1
            for code in set(f.services_mobilized):
                by_service[(code,)] += 1
        if f.confirmed_at is not None:
            confirmed += 1
            if f.sla_warnings:
                warned += 1
                by_warning_district[(district,)] += 1
            if f.sla_breaches:
                breached += 1
                by_breach_district[(district,)] += 1
                for kind in set(f.sla_breaches):
                    by_kind[kind] += 1
        if opened is not None:
            if (h := _hours(opened, f.decided_at)) is not None:
                decision_hours.append(h)
            if (h := _hours(opened, f.first_contact_at)) is not None:
                contact_hours.append(h)
            if (h := _hours(opened, f.concluded_at)) is not None:
                conclusion_hours.append(h)
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
        not_rejected=not_rejected, persons=persons, closed=closed, sla_warned=warned,
        decision_hours=tuple(sorted(steps["decision"])),
        contact_hours=tuple(sorted(steps["contact"])),
        conclusion_hours=tuple(sorted(steps["conclusion"])),
    )
