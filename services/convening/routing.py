"""Which district table a situation goes to (pure).

The municipality-to-district map is reference data (``schemas.reference``), passed in, so a
coordinator's correction needs no release. A municipality outside Halton has no table: the
caller turns :class:`Unroutable` into a rejection with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from directory.model import Directory, TableSettings
from schemas.errors import RuleViolation
from schemas.reference import Reference
from schemas.situations import SituationOpened
from services.convening.model import SituationBrief


@dataclass(frozen=True, slots=True)
class Routed:
    """The situation belongs to ``table``."""

    district: str
    table: TableSettings


@dataclass(frozen=True, slots=True)
class Unroutable:
    """No table takes the situation; ``code`` and ``message`` say why."""

    code: str
    message: str


def route(municipality: str, reference: Reference, directory: Directory) -> Routed | Unroutable:
    """Route a situation by its municipality (code, name or alias) to its district's table."""
    found = reference.district_for(municipality)
    if found is None:
        return Unroutable(
            "municipality_outside_halton",
            f"municipality {municipality!r} is not served by a Halton district; "
            "situations outside Halton go to their own region's table",
        )
    district = found.code
    table = directory.table(district)
    if table is None:
        return Unroutable(
            "district_without_table",
            f"district {district!r} has no table in the directory (version {directory.version})",
        )
    return Routed(district, table)


def risk_categories(risk_factors: Iterable[str]) -> tuple[str, ...]:
    """The sorted, distinct categories of ``category.factor`` risk factor codes."""
    return tuple(sorted({code.split(".", 1)[0] for code in risk_factors}))


def brief(event: SituationOpened, reference: Reference, directory: Directory,
          now: datetime) -> tuple[TableSettings, SituationBrief]:
    """The table an opened situation goes to and what placing it needs to know of it.

    It is placed from when convening sees it (``max(opened_at, now)``): after an outage, never on
    a meeting already past.

    Raises:
        RuleViolation: no table takes the situation, or its municipality is served by another
            district than the one it names.
    """
    sid = event.situation_id
    routed = route(event.summary.municipality, reference, directory)
    if isinstance(routed, Unroutable):
        raise RuleViolation(f"situation {sid} cannot be routed: {routed.code}: {routed.message}")
    if routed.district != event.district:
        raise RuleViolation(f"situation {sid} says {event.district} but its municipality is "
                            f"served by {routed.district}")
    return routed.table, SituationBrief(
        situation_id=sid, district=event.district, originating_agency=event.originating_agency,
        priority=event.priority, arrived_at=max(event.opened_at, now),
        risk_categories=risk_categories(event.summary.risk_factors))
