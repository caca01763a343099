"""Which district table a situation goes to (pure).

The municipality-to-district map is reference data (``schemas.reference``), passed in, so a
coordinator's correction needs no release. A municipality outside Halton has no table: the
caller turns :class:`Unroutable` into a rejection with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from directory.model import Directory, TableSettings
from schemas.reference import Reference


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
