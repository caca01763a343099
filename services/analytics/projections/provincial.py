"""Provincial-database-style de-identified rows: one per concluded, rejected or returned situation.

Pure functions of the folded :class:`~services.analytics.projections.facts.SituationFacts`. A row
never carries the situation id (a UUIDv7 embeds its creation time to the millisecond): rows are
numbered after a stable sort instead. Dates are calendar days in Halton's time zone.

For a situation **rejected** as not AER, the provincial database keeps only limited data; the same
fields are redacted here (domain.md section 4): assisting agencies, risk factors, study flags,
protective factors, affected persons (age groups, genders) and services mobilized.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from schemas.reference import reference
from services.analytics.projections.facts import Draft, SituationFacts

HALTON = ZoneInfo("America/Toronto")
UNKNOWN = "unknown"
REDACTED_FIELDS: tuple[str, ...] = (
    "assisting_agency_types", "age_groups", "genders", "risk_factors", "risk_categories",
    "protective_factors", "study_flags", "services_mobilized",
)
"""The fields a rejected situation's row leaves empty (``None``)."""


@dataclass(frozen=True, slots=True)
class ProvincialRow:
    """One de-identified row. List fields are sorted; ``None`` means redacted."""

    row_number: int
    district: str
    table: str
    situation_type: str
    priority: str
    opened_date: date | None
    decision_date: date | None
    closed_date: date | None
    decision: str
    originating_agency_type: str
    lead_agency_type: str | None
    assisting_agency_types: tuple[str, ...] | None
    age_groups: tuple[str, ...] | None
    genders: tuple[str, ...] | None
    risk_factors: tuple[str, ...] | None
    risk_categories: tuple[str, ...] | None
    protective_factors: tuple[str, ...] | None
    study_flags: tuple[str, ...] | None
    services_mobilized: tuple[str, ...] | None
    mobilization_hours: float | None
    conclusion: str
    outcome: str
    redacted: bool


def local_day(moment: datetime | None) -> date | None:
    """The calendar day of ``moment`` in Halton."""
    return moment.astimezone(HALTON).date() if moment is not None else None


def rows(facts: Iterable[SituationFacts], agency_types: Mapping[str, str]) -> list[ProvincialRow]:
    """The rows for every closed situation, sorted and numbered from 1.

    Args:
        facts: the folded facts of every situation seen.
        agency_types: agency slug → agency type (from the directory); unknown slugs map to
            ``unknown``.
    """
    return numbered(closed_rows(facts, agency_types))


def closed_rows(facts: Iterable[SituationFacts | Draft],
                agency_types: Mapping[str, str]) -> list[ProvincialRow]:
    """The rows of the closed situations of ``facts``, not yet sorted or numbered (row 0)."""
    return [_row(f, agency_types) for f in facts if f.final_conclusion is not None]


def numbered(built: Iterable[ProvincialRow]) -> list[ProvincialRow]:
    """Rows sorted (district, dates, conclusion, originating sector, then every field) and
    numbered from 1: the order depends on the rows only, never on how they were read."""
    return [_numbered(r, i) for i, r in enumerate(sorted(built, key=_sort_key), start=1)]


def _sort_key(r: ProvincialRow) -> tuple[str, ...]:
    # repr() last: rows equal in every visible field are interchangeable, so the order is total.
    return (r.district, str(r.opened_date), str(r.decision_date), str(r.closed_date),
            r.conclusion, r.originating_agency_type, repr(r))


def _numbered(r: ProvincialRow, n: int) -> ProvincialRow:
    return replace(r, row_number=n)


def _row(f: SituationFacts | Draft, agency_types: Mapping[str, str]) -> ProvincialRow:
    ref = reference()
    conclusion = f.final_conclusion or UNKNOWN
    outcomes = {c.code: c.outcome for c in ref.conclusions}
    districts = {d.code: d.name for d in ref.districts}
    district = f.district or UNKNOWN
    kind = _kind(agency_types)
    redact = f.rejected
    mobilization = f.mobilization_hours
    categories = tuple(sorted({code.split(".", 1)[0] for code in f.risk_factors}))
    return ProvincialRow(
        row_number=0,
        district=district,
        table=districts.get(district, UNKNOWN),
        situation_type=f.situation_type or UNKNOWN,
        priority=f.priority or UNKNOWN,
        opened_date=local_day(f.opened_at),
        decision_date=local_day(f.decided_at),
        closed_date=local_day(f.closed_at),
        decision=f.decision or UNKNOWN,
        originating_agency_type=kind(f.originating_agency) or UNKNOWN,
        lead_agency_type=kind(f.lead_agency),
        assisting_agency_types=None if redact else tuple(
            sorted(k for a in f.assisting_agencies if (k := kind(a)) is not None)),
        age_groups=None if redact else tuple(sorted(p[0] for p in f.persons)),
        genders=None if redact else tuple(sorted(p[1] for p in f.persons)),
        risk_factors=None if redact else tuple(sorted(f.risk_factors)),
        risk_categories=None if redact else categories,
        protective_factors=None if redact else tuple(sorted(f.protective_factors)),
        study_flags=None if redact else tuple(sorted(f.study_flags)),
        services_mobilized=None if redact else tuple(sorted(f.services_mobilized)),
        mobilization_hours=None if redact or mobilization is None else round(mobilization, 1),
        conclusion=conclusion,
        outcome=outcomes.get(conclusion, UNKNOWN),
        redacted=redact,
    )


def _kind(agency_types: Mapping[str, str]) -> Callable[[str | None], str | None]:
    def kind(agency: str | None) -> str | None:
        return None if agency is None else agency_types.get(agency, UNKNOWN)

    return kind
