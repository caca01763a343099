"""Frozen models of the reference data (validated from the YAML files beside this module)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
TaskCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z-]{0,31}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=120)]
Line = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Frozen(BaseModel):
    """Base of reference models: frozen, unknown keys forbidden (a typo fails the load)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Term(Frozen):
    """A coded term: code, display name, optional one-line definition, provisional flag."""

    code: Slug
    name: Label
    definition: Line | None = None
    provisional: bool = False


class Municipality(Frozen):
    """A municipality or community a district covers (``division`` is the HRPS division).

    ``aliases`` are other ways of writing its name (``Town of Milton``); ``communities`` are
    hamlets and villages within it that people name instead (``Glen Williams``). Both are looked
    up like the name (:mod:`schemas.reference.places`).
    """

    code: Slug
    name: Label
    town: Label
    division: int | None
    aliases: tuple[Label, ...] = ()
    communities: tuple[Label, ...] = ()


class OutsidePlace(Frozen):
    """A place outside Halton that people refer from (Hamilton, Mississauga...): recognised, so
    that the answer says it is outside Halton rather than that the name is unknown.

    ``region`` is the municipality or region it belongs to (``Region of Peel``).
    """

    code: Slug
    name: Label
    region: Label
    aliases: tuple[Label, ...] = ()


class District(Frozen):
    """An HRPS district and the municipalities it covers."""

    code: Slug
    name: Label
    municipalities: tuple[Municipality, ...] = Field(min_length=1)


class RiskFactor(Frozen):
    """A risk factor ``category.factor`` with its definition; ``sectors`` empty = category's."""

    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]
    name: Label
    definition: Line
    sectors: tuple[Slug, ...] = ()
    provisional: bool = True


class RiskCategory(Frozen):
    """A risk category, the sectors that act on it, and its factors."""

    code: Slug
    name: Label
    definition: Line
    sectors: tuple[Slug, ...] = Field(min_length=1)
    provisional: bool
    factors: tuple[RiskFactor, ...] = Field(min_length=1)


class ProtectiveFactor(Term):
    """A protective factor; ``category`` is filled in from the category it is listed under."""

    category: Slug | None = None


class ProtectiveCategory(Frozen):
    """A protective-factor category (Appendix F groups them) and its factors."""

    code: Slug
    name: Label
    provisional: bool
    factors: tuple[ProtectiveFactor, ...] = Field(min_length=1)


class AgeGroup(Term):
    """An age group; ``max_age`` ``None`` is open-ended, both ``None`` is unknown."""

    min_age: int | None
    max_age: int | None


class Conclusion(Term):
    """A conclusion code and the broad outcome it belongs to."""

    outcome: Literal["rejected", "returned", "risk_lowered", "still_aer", "withdrawn"]


class LegalBasisTerm(Term):
    """A legal basis for disclosure, with its statute."""

    statute: Label | None


class TaskStateTerm(Frozen):
    """A FHIR task state."""

    code: TaskCode
    name: Label
    terminal: bool


class TaskStates(Frozen):
    """The FHIR referral task states and their allowed transitions."""

    initial: TaskCode
    reason_required: tuple[TaskCode, ...]
    from_any: tuple[TaskCode, ...]
    states: tuple[TaskStateTerm, ...]
    transitions: Mapping[TaskCode, tuple[TaskCode, ...]]

    def can_move(self, current: str, target: str) -> bool:
        """Whether a task may move from ``current`` to ``target``."""
        if target in self.from_any and current != target:
            return True
        return target in self.transitions.get(current, ())

    def needs_reason(self, target: str) -> bool:
        """Whether moving to ``target`` requires a reason."""
        return target in self.reason_required
