"""Load and cross-check the reference YAML files into one frozen :class:`Reference`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache, cached_property
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from schemas.errors import ConfigurationError
from schemas.reference.calendar import STATUTORY_HOLIDAYS, OntarioHolidays
from schemas.reference.models import (
    AgeGroup,
    Conclusion,
    District,
    Frozen,
    LegalBasisTerm,
    Municipality,
    OutsidePlace,
    ProtectiveCategory,
    ProtectiveFactor,
    RiskCategory,
    RiskFactor,
    TaskStates,
    Term,
)
from schemas.reference.places import Place, collisions, index, spelling

HERE = Path(__file__).parent
T = TypeVar("T", bound=BaseModel)


class Reference(Frozen):
    """All reference data, validated and cross-checked. Obtain it with :func:`reference`.

    ``versions`` maps each file's stem to its ``version:``; ``provisional`` lists the files that
    are provisional as a whole.
    """

    versions: Mapping[str, int]
    provisional: frozenset[str]
    districts: tuple[District, ...]
    sectors: tuple[Term, ...]
    risk_categories: tuple[RiskCategory, ...]
    conclusions: tuple[Conclusion, ...]
    age_groups: tuple[AgeGroup, ...]
    genders: tuple[Term, ...]
    legal_bases: tuple[LegalBasisTerm, ...]
    task_states: TaskStates
    study_flags: tuple[Term, ...]
    protective_categories: tuple[ProtectiveCategory, ...]
    protective_factors: tuple[ProtectiveFactor, ...]
    """Every protective factor of every category, each with its ``category``."""
    event_topics: tuple[Term, ...]
    event_decline_reasons: tuple[Term, ...]
    event_withdrawal_reasons: tuple[Term, ...]
    event_officer_roles: tuple[Term, ...]
    outside_halton: tuple[OutsidePlace, ...] = ()
    """Places outside Halton that people name (``outside_halton`` in ``districts.yaml``)."""

    @property
    def holiday_dates(self) -> OntarioHolidays:
        """Ontario's statutory holidays as observed (business days and meetings skip them)."""
        return STATUTORY_HOLIDAYS

    def place(self, written: str) -> Place | None:
        """The place a name as people write it names: a Halton :class:`Municipality` (code,
        name, alias or community), a known :class:`OutsidePlace`, or ``None`` (unknown). Case,
        accents, spacing, hyphens, ``Town of`` and ``, ON`` are ignored
        (:func:`schemas.reference.places.spelling`). The one place-name lookup of the services.
        """
        return self._places.get(spelling(written))

    def municipality(self, name_or_code: str) -> Municipality | None:
        """The Halton municipality a name as written names (see :meth:`place`), or ``None``."""
        found = self.place(name_or_code)
        return found if isinstance(found, Municipality) else None

    @cached_property
    def _places(self) -> Mapping[str, Place]:
        """Every spelling key of every place -> the place (built once)."""
        return index(self.districts, self.outside_halton)

    def district_for(self, name_or_code: str) -> District | None:
        """The district covering a municipality as written (code, name, alias or community:
        :meth:`place`); ``None``: not Halton's, or unknown."""
        town = self.municipality(name_or_code)
        return None if town is None else self._district_of[town.code]

    @cached_property
    def _district_of(self) -> Mapping[str, District]:
        """Each Halton municipality's code -> its district (built once: comparing the models
        was most of Filter 1's municipality check)."""
        return {m.code: d for d in self.districts for m in d.municipalities}

    def risk_factor(self, code: str) -> RiskFactor | None:
        """The factor for ``category.factor``, or ``None``."""
        return self.risk_factors.get(code)

    @cached_property
    def risk_factors(self) -> Mapping[str, RiskFactor]:
        """Every factor by code (built once: the reference is frozen)."""
        return {f.code: f for c in self.risk_categories for f in c.factors}

    def sectors_for(self, factor_codes: Iterable[str]) -> frozenset[str]:
        """The service sectors that can act on the given factors (unknown codes are ignored)."""
        by_code = {c.code: c for c in self.risk_categories}
        found: set[str] = set()
        for code in factor_codes:
            factor = self.risk_factor(code)
            if factor is not None:
                found.update(factor.sectors or by_code[code.split(".", 1)[0]].sectors)
        return frozenset(found)

    def codes(self, kind: str) -> frozenset[str]:
        """The codes of a term list: ``sectors``, ``conclusions``, ``age_groups``, ``genders``,
        ``legal_bases``, ``study_flags``, ``protective_factors``, ``protective_categories``,
        ``districts``,
        ``municipalities``, ``risk_factors``, ``risk_categories``, ``task_states``,
        ``event_topics``, ``event_decline_reasons``, ``event_withdrawal_reasons`` or
        ``event_officer_roles``."""
        if kind == "municipalities":
            return frozenset(m.code for d in self.districts for m in d.municipalities)
        if kind == "risk_factors":
            return frozenset(self.risk_factors)
        if kind == "task_states":
            return frozenset(s.code for s in self.task_states.states)
        items: tuple[Any, ...] = getattr(self, kind)
        return frozenset(item.code for item in items)


def _read(directory: Path, stem: str) -> dict[str, Any]:
    path = directory / f"{stem}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read reference file {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("version"), int):
        raise ConfigurationError(f"{path} must be a mapping with an integer 'version:'")
    return data


def _validate(model: type[T], data: Any, where: str) -> T:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(f"reference data {where} is invalid: {exc}") from exc


def _terms(model: type[T], items: Any, where: str) -> tuple[T, ...]:
    if not isinstance(items, list):
        raise ConfigurationError(f"reference data {where} must be a list")
    return tuple(_validate(model, item, f"{where}[{i}]") for i, item in enumerate(items))


def load(directory: Path = HERE) -> Reference:
    """Load, validate and cross-check the reference files in ``directory``.

    Raises:
        ConfigurationError: a file is missing or malformed, or files contradict each other.
    """
    lists = {
        "districts": ("districts", District),
        "sectors": ("sectors", Term),
        "risk_taxonomy": ("categories", RiskCategory),
        "conclusions": ("conclusions", Conclusion),
        "age_groups": ("age_groups", AgeGroup),
        "genders": ("genders", Term),
        "legal_bases": ("legal_bases", LegalBasisTerm),
        "study_flags": ("study_flags", Term),
        "protective_factors": ("categories", ProtectiveCategory),
        "event_topics": ("event_topics", Term),
        "event_decline_reasons": ("event_decline_reasons", Term),
        "event_withdrawal_reasons": ("event_withdrawal_reasons", Term),
        "event_officer_roles": ("event_officer_roles", Term),
    }
    versions: dict[str, int] = {}
    provisional: set[str] = set()
    loaded: dict[str, tuple[Any, ...]] = {}
    for stem, (key, model) in lists.items():
        data = _read(directory, stem)
        versions[stem] = data["version"]
        if data.get("provisional"):
            provisional.add(stem)
        loaded[stem] = _terms(model, data.get(key), f"{stem}.{key}")
    outside = _terms(OutsidePlace, _read(directory, "districts").get("outside_halton", []),
                     "districts.outside_halton")
    tasks = _read(directory, "task_states")
    versions["task_states"] = tasks.pop("version")
    tasks.pop("provisional", None)
    reference = _validate(
        Reference,
        {
            "versions": versions, "provisional": frozenset(provisional),
            "districts": loaded["districts"], "sectors": loaded["sectors"],
            "risk_categories": loaded["risk_taxonomy"], "conclusions": loaded["conclusions"],
            "age_groups": loaded["age_groups"], "genders": loaded["genders"],
            "legal_bases": loaded["legal_bases"], "task_states": tasks,
            "study_flags": loaded["study_flags"],
            "protective_categories": loaded["protective_factors"],
            "protective_factors": tuple(
                f.model_copy(update={"category": c.code})
                for c in loaded["protective_factors"] for f in c.factors),
            "event_topics": loaded["event_topics"],
            "event_decline_reasons": loaded["event_decline_reasons"],
            "event_withdrawal_reasons": loaded["event_withdrawal_reasons"],
            "event_officer_roles": loaded["event_officer_roles"],
            "outside_halton": outside,
        },
        "Reference",
    )
    problems = list(_cross_check(reference))
    if problems:
        raise ConfigurationError("reference data is inconsistent: " + "; ".join(problems))
    return reference


def _cross_check(ref: Reference) -> Iterable[str]:
    for kind in ("districts", "sectors", "conclusions", "age_groups", "genders", "legal_bases",
                 "study_flags", "protective_factors", "protective_categories",
                 "risk_categories", "event_topics",
                 "event_decline_reasons", "event_withdrawal_reasons", "event_officer_roles"):
        items: tuple[Any, ...] = getattr(ref, kind)
        if len({i.code for i in items}) != len(items):
            yield f"{kind} has a repeated code"
    towns = [m.code for d in ref.districts for m in d.municipalities]
    if len(set(towns)) != len(towns):
        yield "a municipality belongs to two districts"
    yield from collisions(ref.districts, ref.outside_halton)
    for group in ref.protective_categories:
        for protective in group.factors:
            if group.provisional and not protective.provisional:
                yield (f"protective factor {protective.code} is marked verified in provisional "
                       f"category {group.code}")
    sectors = ref.codes("sectors")
    factors = [f for c in ref.risk_categories for f in c.factors]
    if len({f.code for f in factors}) != len(factors):
        yield "risk_taxonomy has a repeated factor code"
    for category in ref.risk_categories:
        for sector in category.sectors:
            if sector not in sectors:
                yield f"category {category.code} names unknown sector {sector}"
        for factor in category.factors:
            if not factor.code.startswith(category.code + "."):
                yield f"factor {factor.code} is not under its category {category.code}"
            for sector in factor.sectors:
                if sector not in sectors:
                    yield f"factor {factor.code} names unknown sector {sector}"
    states = ref.codes("task_states")
    graph = ref.task_states
    named = {graph.initial, *graph.reason_required, *graph.from_any, *graph.transitions}
    named.update(s for targets in graph.transitions.values() for s in targets)
    for state in sorted(named - states):
        yield f"task_states names unknown state {state}"
    for term in graph.states:
        if term.terminal and graph.transitions.get(term.code):
            yield f"terminal task state {term.code} has outgoing transitions"


@cache
def reference() -> Reference:
    """The packaged reference data, loaded once (frozen; safe to share)."""
    return load()
