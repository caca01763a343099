"""Display names of reference codes, for every page and notice that shows them (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from schemas.reference.loader import Reference


def reference_names(ref: Reference) -> dict[str, Mapping[str, str]]:
    """``{kind: {code: name}}`` for the reference data people read: districts, municipalities,
    age groups, genders, conclusions, legal bases, sectors, task states, officer roles, risk
    and protective categories, and risk and protective factors as ``Category: factor``."""
    categories = {c.code: c.name for c in ref.risk_categories}
    protective = {c.code: c.name for c in ref.protective_categories}
    return {
        "district": {d.code: d.name for d in ref.districts},
        "municipality": {m.code: m.name for d in ref.districts for m in d.municipalities},
        "age_group": {a.code: a.name for a in ref.age_groups},
        "gender": {g.code: g.name for g in ref.genders},
        "conclusion": {c.code: c.name for c in ref.conclusions},
        "legal_basis": {b.code: b.name for b in ref.legal_bases},
        "protective": {p.code: f"{protective[p.category]}: {p.name}" if p.category else p.name
                       for p in ref.protective_factors},
        "protective_category": protective,
        "risk_category": categories,
        "sector": {s.code: s.name for s in ref.sectors},
        "task": {s.code: s.name for s in ref.task_states.states},
        "officer_role": {t.code: t.name for t in ref.event_officer_roles},
        "risk": {code: f"{categories.get(code.split('.', 1)[0], code)}: {f.name}"
                 for code, f in ref.risk_factors.items()},
    }
