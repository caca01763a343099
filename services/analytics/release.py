"""The statistical release: every table and measure an analyst receives, protected together.

:func:`build` turns the raw statistics into one :class:`Release`: the count tables in the
reference data's order and names (``schemas/reference/labels.py``, the names the e-mails and the
console use), the measures, and the linear relations between them (each table adds up to its
total; month by district adds up to both the month and the district tables; a rate's base is
its numerator plus its complement). :func:`services.analytics.privacy.protect` then decides what
each count shows, once, so the CSV, Parquet, workbook, report and charts agree cell for cell.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import statistics as pystats
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from schemas.reference import reference
from schemas.reference.labels import reference_names
from services.analytics.privacy import (
    SMALL_CELL,
    Key,
    Line,
    Method,
    Protected,
    protect,
    rate_allowed,
)
from services.analytics.projections.event_requests import RequestStatistics
from services.analytics.projections.provincial import UNKNOWN
from services.analytics.projections.statistics import (
    COUNT_BINS,
    NO_LEAD,
    Statistics,
    percentile,
)

AGENCY_TYPE_NAMES: dict[str, str] = {
    "police_cmb": "Police (Community Mobilization Bureau)", "justice": "Justice",
    "housing": "Housing", "public_health": "Public health",
    "child_youth_mental_health": "Child and youth mental health",
    "addiction_services": "Addiction services", "municipality": "Municipality", "ems": "EMS",
    "mental_health": "Mental health", "child_welfare": "Child welfare",
    "womens_shelter": "Women's shelter", "developmental_services": "Developmental services",
    "school_board": "School board", "hospital": "Hospital", NO_LEAD: "No lead named",
}
"""Names of the directory's agency types (``directory/model.py``), the sectors of the
originating, lead and assisting agencies."""
SECTORS = tuple(code for code in AGENCY_TYPE_NAMES if code != NO_LEAD)
"""Every sector is a row (an empty one reads <5 like any small count), in the directory's order."""
DECISIONS = {"confirmed": "AER confirmed", "rejected": "Rejected (not AER)",
             "returned": "Returned to the originator", "pending": "Not yet decided"}
SITUATION_TYPES = {"individual": "Individual", "family": "Family", "group": "Group",
                   "location": "Location"}
COUNT_BIN_NAMES = {"0-1": "1 or none", "2": "2", "3": "3", "4": "4", "5+": "5 or more"}
ANSWERS = {"acknowledged": "Acknowledged", "rejected": "Rejected",
           "pending": "Awaiting the requester's confirmation", "expired": "Never confirmed"}
KINDS = {"speaker": "Speaker", "district_tour": "District tour",
         "event_participation": "Event participation"}
OUTCOMES = {"scheduled": "Scheduled", "declined": "Declined", "withdrawn": "Withdrawn",
            "pending": "Pending"}
GRIDS: dict[str, tuple[str, str | None, Key]] = {
    "month_district": ("month", "district", ("situations",)),
    "requests.month_district": ("requests.month", "requests.district", ("requests.total",)),
    "requests.outcome_district": ("requests.outcome", None, ("requests.answer", "acknowledged")),
}
"""Two-way tables: the tables holding their row and column totals, and their grand total."""
FOLLOW_UPS = {"reminded": "CMB manager reminded", "escalated": "Escalated to the Staff Sergeant"}


@dataclass(frozen=True, slots=True)
class Row:
    """One cell of a table: its key in the release, its codes and their names."""

    key: Key
    codes: tuple[str, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """A count table as published: what it counts, its rows in order, its total."""

    name: str
    title: str
    note: str
    headings: tuple[str, ...]
    rows: tuple[Row, ...]
    total: Key | None
    """The key of the total row, or ``None`` when the rows do not add up (one situation may
    count in several)."""
    section: str = "situations"


@dataclass(frozen=True, slots=True)
class Measure:
    """A measure: a count (``key``), or hours, days or a percentage (``value``)."""

    name: str
    label: str
    unit: str
    """``count``, ``hours``, ``days`` or ``percent``."""
    key: Key | None = None
    value: float | None = None
    """Hours, days or percent (1 decimal); ``None`` when suppressed (or a count)."""


@dataclass(frozen=True, slots=True)
class Release:
    """Every table and measure of a statistics run, protected together."""

    tables: tuple[Table, ...]
    measures: tuple[Measure, ...]
    counts: Mapping[Key, int]
    """The true counts (never published: what the protection works from)."""
    lines: tuple[Line, ...]
    protected: Protected
    months: tuple[str, ...]
    """The months of the situations, first to last (the reporting period)."""

    def table(self, name: str) -> Table:
        """The table called ``name``."""
        return next(t for t in self.tables if t.name == name)

    def measure(self, name: str) -> Measure:
        """The measure called ``name``."""
        return next(m for m in self.measures if m.name == name)


class _Builder:
    def __init__(self) -> None:
        self.counts: dict[Key, int] = {}
        self.lines: list[Line] = []
        self.tables: list[Table] = []

    def count(self, key: Key, n: int) -> Key:
        self.counts[key] = n
        return key

    def table(self, name: str, title: str, note: str, headings: tuple[str, ...],
              counts: Mapping[tuple[str, ...], int], codes: Iterable[str],
              names: Callable[[str], str], total: Key | None, section: str = "situations",
              prefix: str = "") -> None:
        order = list(dict.fromkeys([*codes, *sorted(c[0] for c in counts)]))
        rows = []
        for code in order:
            key = self.count((prefix + name, code), counts.get((code,), 0))
            rows.append(Row(key, (code,), (names(code),)))
        if total is not None:
            self.line(total, tuple(r.key for r in rows))
        self.tables.append(Table(prefix + name, title, note, headings, tuple(rows), total, section))

    def grid(self, name: str, title: str, note: str, headings: tuple[str, str],
             counts: Mapping[tuple[str, ...], int], first: Sequence[Row], second: Sequence[Row],
             section: str = "situations", prefix: str = "") -> None:
        """A two-way table whose rows add up to ``first``'s cells and columns to ``second``'s."""
        rows: list[Row] = []
        for a in first:
            cells = []
            for b in second:
                key = self.count((prefix + name, a.codes[0], b.codes[0]),
                                 counts.get((a.codes[0], b.codes[0]), 0))
                cells.append(key)
                rows.append(Row(key, (a.codes[0], b.codes[0]), (a.labels[0], b.labels[0])))
            self.line(a.key, tuple(cells))
        for j, b in enumerate(second):
            self.line(b.key, tuple(rows[i * len(second) + j].key for i in range(len(first))))
        self.tables.append(Table(prefix + name, title, note, headings, tuple(rows), None, section))

    def line(self, total: Key, parts: tuple[Key, ...], *, if_exact: bool = False) -> None:
        """Declare ``total = sum(parts)``; with ``if_exact``, only when the data agree (a
        relation that holds in practice, e.g. AER confirmed and the decision table)."""
        if if_exact and (any(k not in self.counts for k in (total, *parts))
                         or self.counts[total] != sum(self.counts[p] for p in parts)):
            return
        self.lines.append(Line(total, parts))


MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")


def month_name(month: str) -> str:
    """``2026-03`` as ``March 2026`` (anything else, e.g. ``unknown``, as it is)."""
    year, _, number = month.partition("-")
    if not number.isdigit() or not 1 <= int(number) <= 12:
        return "Unknown" if month == UNKNOWN else month
    return f"{MONTH_NAMES[int(number) - 1]} {year}"


MAX_MONTHS = 60
"""A range of more months than this (stray test data years apart) lists only the months seen."""


def months_between(months: Iterable[str]) -> tuple[str, ...]:
    """Every ``YYYY-MM`` from the first to the last of ``months`` (``unknown`` last, if any), so
    that an empty month is a cell like the others; over :data:`MAX_MONTHS`, the months seen."""
    seen = set(months)
    known = sorted(m for m in seen if m != UNKNOWN)
    out: list[str] = []
    span = (int(known[-1][:4]) - int(known[0][:4])) * 12 + int(known[-1][5:]) - int(
        known[0][5:]) + 1 if known else 0
    if span > MAX_MONTHS:
        out = known
    elif known:
        year, month = (int(x) for x in known[0].split("-"))
        while f"{year:04d}-{month:02d}" <= known[-1]:
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return (*out, *([UNKNOWN] if UNKNOWN in seen else []))


def _namer(names: Mapping[str, str]) -> Callable[[str], str]:
    def name(code: str) -> str:
        return names.get(code, "Unknown" if code == UNKNOWN else code.replace("_", " "))

    return name


def build(stats: Statistics, requests: RequestStatistics | None = None,
          method: Method = Method.SUPPRESS) -> Release:
    """The protected release of ``stats`` (and of ``requests``, when given)."""
    ref = reference()
    names = reference_names(ref)
    b = _Builder()
    c = stats.counts
    situations = b.count(("situations",), stats.situations)
    not_rejected = b.count(("not_rejected",), stats.not_rejected)
    persons = b.count(("persons",), stats.persons)
    closed = b.count(("closed",), stats.closed)
    districts = [d.code for d in ref.districts]
    district = _namer(names["district"])
    months = months_between(k[0] for k in c["month"])
    agency = _namer(AGENCY_TYPE_NAMES)
    b.table("district", "Situations by district", "Situations opened in the period, by the "
            "district whose table met.", ("District",), c["district"], districts, district,
            situations)
    b.table("month", "Situations by month", "Situations by month of opening (Halton time).",
            ("Month",), c["month"], months, month_name, situations)
    b.grid("month_district", "Situations by month and district", "Each row adds up to the "
           "month, each column to the district.", ("Month", "District"), c["month_district"],
           b.tables[1].rows, b.tables[0].rows)
    b.table("decision", "Filter 2 outcomes", "The table's decision on each situation.",
            ("Decision",), c["decision"], DECISIONS, _namer(DECISIONS), situations)
    b.table("situation_type", "Situations by type", "Individual, family, group or location.",
            ("Situation type",), c["situation_type"], SITUATION_TYPES, _namer(SITUATION_TYPES),
            situations)
    b.table("originating_sector", "Originating sector", "The type of the agency that referred "
            "the situation.", ("Sector",), c["originating_sector"], SECTORS, agency, situations)
    b.table("lead_sector", "Lead sector", "The type of the lead agency (the latest named).",
            ("Sector",), c["lead_sector"], (*SECTORS, NO_LEAD), agency, situations)
    b.table("assisting_sector", "Assisting sectors", "Situations not rejected with at least one "
            "assisting agency of the type (a situation may count under several).", ("Sector",),
            c["assisting_sector"], SECTORS, agency, None)
    b.table("age_group", "Persons concerned by age group", "Persons in situations not "
            "rejected.", ("Age group",), c["age_group"], [a.code for a in ref.age_groups],
            _namer(names["age_group"]), persons)
    b.table("gender", "Persons concerned by gender", "Persons in situations not rejected.",
            ("Gender",), c["gender"], [g.code for g in ref.genders], _namer(names["gender"]),
            persons)
    b.table("risk_factor_count", "Number of risk factors per situation", "Situations not "
            "rejected, by how many risk factors they name.", ("Risk factors",),
            c["risk_factor_count"], COUNT_BINS, _namer(COUNT_BIN_NAMES), not_rejected)
    b.table("risk_category_count", "Number of risk categories per situation", "Situations not "
            "rejected, by how many risk categories their factors fall in.", ("Risk categories",),
            c["risk_category_count"], COUNT_BINS, _namer(COUNT_BIN_NAMES), not_rejected)
    b.table("risk_category", "Risk categories", "Situations not rejected with at least one "
            "factor in the category (a situation may count under several).", ("Risk category",),
            c["risk_category"], [r.code for r in ref.risk_categories],
            _namer(names["risk_category"]), None)
    b.table("protective_factor", "Protective factors", "Situations not rejected naming the "
            "factor.", ("Protective factor",), c["protective_factor"],
            [p.code for p in ref.protective_factors], _namer(names["protective"]), None)
    b.table("study_flag", "Study flags", "Situations not rejected carrying the flag.",
            ("Study flag",), c["study_flag"], [s.code for s in ref.study_flags],
            _namer({s.code: s.name for s in ref.study_flags}), None)
    b.table("service_mobilized", "Services mobilized", "Situations not rejected in which the "
            "sector's services were mobilized.", ("Service",), c["service_mobilized"],
            [s.code for s in ref.sectors], _namer(names["sector"]), None)
    b.table("conclusion", "Conclusions", "Situations closed: concluded, rejected or returned.",
            ("Conclusion",), c["conclusion"], [x.code for x in ref.conclusions],
            _namer(names["conclusion"]), closed)
    sla_warned = b.count(("sla_warned",), stats.sla_warned)
    sla_breached = b.count(("sla_breached",), stats.sla_breached)
    b.table("sla_warning_district", "SLA warnings by district", "AER-confirmed situations with "
            "at least one 24/48-hour warning.", ("District",), c["sla_warning_district"],
            districts, district, sla_warned)
    b.table("sla_breach_district", "SLA breaches by district", "AER-confirmed situations with "
            "at least one breach.", ("District",), c["sla_breach_district"], districts,
            district, sla_breached)
    b.line(situations, (not_rejected, ("decision", "rejected")), if_exact=True)
    confirmed = b.count(("aer_confirmed",), stats.aer_confirmed)
    # Relations that hold unless a situation was reopened: a reader may assume them, so they
    # are protected whenever the data agree.
    b.line(confirmed, (("decision", "confirmed"),), if_exact=True)
    b.line(("conclusion", "rejected_not_aer"), (("decision", "rejected"),), if_exact=True)
    b.line(("conclusion", "returned_to_originator"), (("decision", "returned"),), if_exact=True)
    measures = _measures(b, stats, situations, persons, closed, confirmed, sla_warned,
                         sla_breached)
    if requests is not None:
        _requests(b, requests)
    protected = protect(b.counts, b.lines, method)
    return Release(tuple(b.tables), tuple(_finish(m, b.counts, protected) for m in measures),
                   dict(b.counts), tuple(b.lines), protected, months)


def _measures(b: _Builder, stats: Statistics, situations: Key, persons: Key, closed: Key,
              confirmed: Key, sla_warned: Key, sla_breached: Key) -> list[Measure]:
    kinds = stats.sla_breached_by_kind
    mobilized = b.count(("mobilized",), len(stats.mobilization_hours))
    contacted = b.count(("contacted",), len(stats.contact_hours))
    concluded = b.count(("concluded",), len(stats.conclusion_hours))
    first = b.count(("sla_breached_first_contact",), kinds.get("first_contact", 0))
    lead = b.count(("sla_breached_lead_acceptance",), kinds.get("lead_acceptance", 0))
    assignments = b.count(("assignments",), stats.assignments)
    answered = b.count(("assignments_answered",), stats.assignments_answered)
    accepted = b.count(("assignments_accepted",), stats.assignments_accepted)
    for numerator, base in ((sla_breached, confirmed), (accepted, answered)):
        rest = b.count((*numerator, "complement"), b.counts[base] - b.counts[numerator])
        b.line(base, (numerator, rest))
    return [
        Measure("situations", "Situations", "count", situations),
        Measure("persons", "Persons concerned (situations not rejected)", "count", persons),
        Measure("aer_confirmed", "Situations confirmed as AER", "count", confirmed),
        Measure("closed", "Situations closed", "count", closed),
        _median_measure("decision_median_hours", "Median time from opening to the Filter 2 "
                        "decision", "hours", None, stats.decision_hours),
        Measure("mobilization_situations", "Situations with AER confirmed and a first contact",
                "count", mobilized),
        _median_measure("mobilization_median_hours", "Median service mobilization time (AER confirmed "
               "to first contact)", "hours", mobilized, stats.mobilization_hours),
        _median_measure("mobilization_p90_hours", "90th percentile of service mobilization time",
               "hours", mobilized, stats.mobilization_hours, p90=True),
        Measure("contacted", "Situations with a first contact", "count", contacted),
        _median_measure("contact_median_hours", "Median time from opening to first contact", "hours",
               contacted, stats.contact_hours),
        Measure("concluded", "Situations concluded", "count", concluded),
        _median_measure("conclusion_median_days", "Median time from opening to conclusion", "days",
               concluded, stats.conclusion_hours),
        Measure("sla_warned_situations", "AER situations with an SLA warning", "count",
                sla_warned),
        Measure("sla_breached_situations", "AER situations with an SLA breach", "count",
                sla_breached),
        Measure("sla_breached_first_contact", "Situations breaching the 48 h first contact",
                "count", first),
        Measure("sla_breached_lead_acceptance", "Situations whose lead acceptance was overdue",
                "count", lead),
        Measure("sla_breach_rate", "Share of AER situations with an SLA breach", "percent",
                sla_breached, None),
        Measure("assignments", "Agency assignments (lead or assisting)", "count", assignments),
        Measure("assignments_answered", "Assignments answered", "count", answered),
        Measure("assignments_accepted", "Assignments accepted at first answer", "count",
                accepted),
        Measure("assignment_acceptance_rate", "Share of answered assignments accepted",
                "percent", accepted, None),
    ]


def _median_measure(name: str, label: str, unit: str, base: Key | None,
                    values: tuple[float, ...], *, p90: bool = False) -> Measure:
    """A time measure over ``values``; :func:`_finish` suppresses it when ``base`` (the count
    it rests on, when published) is. Without a published base: shown on 5 values or more."""
    if len(values) < SMALL_CELL:
        return Measure(name, label, unit, base, None)
    value = percentile(values, 90) if p90 else pystats.median(values)
    if value is not None and unit == "days":
        value /= 24.0
    return Measure(name, label, unit, base, value)


_RATE_BASES = {"sla_breach_rate": ("aer_confirmed",),
               "assignment_acceptance_rate": ("assignments_answered",)}


def _finish(m: Measure, counts: Mapping[Key, int], protected: Protected) -> Measure:
    """Apply the protection: a time on a base under 5 or suppressed, or a rate whose numerator,
    base or complement is suppressed, reads ``None``."""
    if m.unit == "count" or m.key is None:
        return m  # a count (protected by key), or a time whose base is not published
    base = m.key
    if m.unit == "percent":
        den_key = _RATE_BASES[m.name]
        num, den = protected.shown(base), protected.shown(den_key)
        rest = protected.shown((*base, "complement"))
        if num is None or den is None or rest is None or not rate_allowed(num, den):
            return Measure(m.name, m.label, m.unit, den_key, None)
        return Measure(m.name, m.label, m.unit, den_key, round(100.0 * num / den, 1))
    shown_base = protected.shown(base)
    if shown_base is None or counts[base] < SMALL_CELL or m.value is None:
        return Measure(m.name, m.label, m.unit, base, None)
    return Measure(m.name, m.label, m.unit, base, round(m.value, 1))


def _requests(b: _Builder, r: RequestStatistics) -> None:
    c, p, sec = r.counts, "requests.", "event_requests"
    ref = reference()
    total = b.count(("requests.total",), r.requests)
    district = _namer(reference_names(ref)["district"])
    b.table("answer", "Event requests by intake's answer", "Every request intake answered.",
            ("Answer",), c["answer"], ANSWERS, _namer(ANSWERS), total, sec, p)
    b.table("district", "Event requests by district", "The district that follows up "
            "(rejections: when recognised).", ("District",), c["district"],
            [d.code for d in ref.districts], district, total, sec, p)
    b.table("kind", "Event requests by kind", "Speaker, district tour or event participation.",
            ("Kind",), c["kind"], KINDS, _namer(KINDS), total, sec, p)
    months = months_between(k[0] for k in c["month"])
    b.table("month", "Event requests by month received", "Month of intake's answer.",
            ("Month",), c["month"], months, month_name, total, sec, p)
    by_month, by_district = b.tables[-1].rows, b.tables[-3].rows
    b.grid("month_district", "Event requests by month and district", "Rows add up to the "
           "month, columns to the district.", ("Month", "District"), c["month_district"],
           by_month, by_district, sec, p)
    acknowledged = ("requests.answer", "acknowledged")
    event_months = months_between(k[0] for k in c["event_month"])
    b.table("event_month", "Acknowledged requests by month of the event", "Month of the "
            "earliest preferred date.", ("Month",), c["event_month"], event_months, month_name, None,
            sec, p)
    b.line(acknowledged, tuple(row.key for row in b.tables[-1].rows), if_exact=True)
    b.table("topic", "Acknowledged requests by topic", "A request naming two topics counts "
            "under both.", ("Topic",), c["topic"], [t.code for t in ref.event_topics],
            _namer({t.code: t.name for t in ref.event_topics}), None, sec, p)
    b.table("outcome", "Acknowledged requests by outcome", "Scheduled, declined, withdrawn or "
            "pending.", ("Outcome",), c["outcome"], OUTCOMES, _namer(OUTCOMES), acknowledged,
            sec, p)
    outcomes = b.tables[-1].rows
    for row in outcomes:
        cells = []
        for d in [x.code for x in ref.districts] + sorted(
                {k[1] for k in c["outcome_district"]} - {x.code for x in ref.districts}):
            cells.append(b.count(("requests.outcome_district", row.codes[0], d),
                                 c["outcome_district"].get((row.codes[0], d), 0)))
        b.line(row.key, tuple(cells))
    b.tables.append(Table("requests.outcome_district", "Acknowledged requests by outcome and "
                          "district", "Each row adds up to the outcome.", ("Outcome", "District"),
                          tuple(Row(k, k[1:], (_namer(OUTCOMES)(k[1]), district(k[2])))
                                for k in b.counts if k[0] == "requests.outcome_district"),
                          None, sec))
    for name, outcome, codes, title in (
            ("decline_reason", "declined", ref.event_decline_reasons, "Declined requests by reason"),
            ("withdrawal_reason", "withdrawn", ref.event_withdrawal_reasons,
             "Withdrawn requests by reason")):
        b.table(name, title, "By reason code.", ("Reason",), c[name], [t.code for t in codes],
                _namer({t.code: t.name for t in codes}), None, sec, p)
        b.line(("requests.outcome", outcome), tuple(row.key for row in b.tables[-1].rows),
               if_exact=True)
    b.table("rejection_reason", "Rejected requests by reason", "Every reason counts.",
            ("Reason",), c["rejection_reason"], (), _namer({}), None, sec, p)
    b.table("follow_up", "Acknowledged requests followed up", "Reminded to the CMB manager or "
            "escalated to the Staff Sergeant.", ("Follow-up",), c["follow_up"], FOLLOW_UPS,
            _namer(FOLLOW_UPS), None, sec, p)
