"""Statistical disclosure control: what a release may show so that no small count can be read
or worked out from it.

A release is a set of counts, each under a :data:`Key`, and the linear relations between them
(:class:`Line`: a margin equals the sum of its cells). The same quantity published in several
places (the number of situations as a measure and as the total of every table that adds up to
it) is one key, so every table that shares a margin is protected together.

Two methods, the analyst's choice (``commande replay --protection``):

* ``suppress`` (the default). **Primary** suppression: a count under 5 is shown as ``<5``.
  **Complementary** suppression: while a line (a margin and its cells) has exactly one
  suppressed member, the smallest other member is suppressed too (shown as ``x``), across rows,
  columns and tables until nothing changes; then an audit bounds every suppressed cell as an
  attacker would (a ``<5`` is 0 to 4, an ``x`` is 5 or more; each line's equation narrows the
  others, repeated until stable; then, exactly, the smallest and largest whole value of each
  hidden cell under all the lines at once, by integer programming) and, while a cell comes back
  to a single value, suppresses the next-smallest member of one of its lines and starts again.
* ``round5``: every count rounded to the nearest multiple of 5 (0-2 down, 3-4 up, independently,
  margins included), so no count under 5 appears; the same audit runs with each count known to
  within 2, and a count it pins down is suppressed (``x``).

Rates, medians and percentiles are shown only on a base of at least 5 that is itself shown; a
rate also publishes its complement (base minus numerator), which is protected as a cell of the
line ``base = numerator + complement``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

SMALL_CELL = 5
SUPPRESSED = "<5"
"""A count under 5 (primary suppression)."""
COMPLEMENTARY = "x"
"""A count of 5 or more suppressed so that a small one cannot be worked out (complementary)."""
SUPPRESSED_MEASURE = "suppressed"
"""What a rate, median or percentile shows when it rests on a small or suppressed count."""
ROUNDING_BASE = 5

Key = tuple[str, ...]
"""One published quantity: ``("situations",)``, ``("district", "district_1")``, ..."""


class Method(StrEnum):
    """How counts are protected (the analyst's choice)."""

    SUPPRESS = "suppress"
    ROUND5 = "round5"


class Mark(StrEnum):
    """Why a count is not shown."""

    SMALL = "small_cell"
    COMPLEMENTARY = "complementary"


@dataclass(frozen=True, slots=True)
class Line:
    """``total = sum(parts)``: a margin and the cells it adds up (a row, a column, a table)."""

    total: Key
    parts: tuple[Key, ...]

    @property
    def members(self) -> tuple[Key, ...]:
        """The total and its parts."""
        return (self.total, *self.parts)


@dataclass(frozen=True, slots=True)
class Protected:
    """A protected release: what each key shows."""

    method: Method
    values: Mapping[Key, int]
    """The value shown for each key (rounded under ``round5``); meaningless where marked."""
    marks: Mapping[Key, Mark] = field(default_factory=dict)

    def shown(self, key: Key) -> int | None:
        """The count as published, ``None`` when suppressed."""
        return None if key in self.marks else self.values[key]

    def mark(self, key: Key) -> Mark | None:
        """Why ``key`` is suppressed, or ``None``."""
        return self.marks.get(key)

    def text(self, key: Key) -> str:
        """The count as a person reads it: ``12``, ``<5`` or ``x``."""
        mark = self.marks.get(key)
        if mark is Mark.SMALL:
            return SUPPRESSED
        if mark is Mark.COMPLEMENTARY:
            return COMPLEMENTARY
        return str(self.values[key])


def cell(count: int) -> str:
    """A count alone (no margins): ``<5`` under the threshold, else the number."""
    return SUPPRESSED if count < SMALL_CELL else str(count)


def shown(count: int) -> int | None:
    """A count alone for a chart: ``None`` (drawn as suppressed) under the threshold."""
    return None if count < SMALL_CELL else count


def rate_allowed(numerator: int, denominator: int) -> bool:
    """Whether a rate may be shown: neither it, its basis nor its complement rests on < 5."""
    return min(numerator, denominator, denominator - numerator) >= SMALL_CELL


def round5(count: int) -> int:
    """``count`` rounded to the nearest multiple of 5 (0-2 down, 3-4 up)."""
    return ROUNDING_BASE * ((count + ROUNDING_BASE // 2) // ROUNDING_BASE)


def primary_only(counts: Mapping[Key, int]) -> Protected:
    """Primary suppression alone (the rule before complementary suppression; kept to show, in
    the tests, that it can be undone by subtraction)."""
    return Protected(Method.SUPPRESS, dict(counts),
                     {k: Mark.SMALL for k, v in counts.items() if v < SMALL_CELL})


def protect(counts: Mapping[Key, int], lines: Sequence[Line],
            method: Method = Method.SUPPRESS) -> Protected:
    """Protect ``counts`` whose relations are ``lines`` (every key of a line must be counted).

    Raises:
        ValueError: a line does not add up (a bug in the release that builds it).
    """
    for line in lines:
        if counts[line.total] != sum(counts[p] for p in line.parts):
            raise ValueError(f"{line.total} is not the sum of its parts")
    if method is Method.ROUND5:
        return _rounded(counts, lines)
    marks = {k: Mark.SMALL for k, v in counts.items() if v < SMALL_CELL}
    by_key = _lines_by_key(lines)
    while True:
        changed = False
        for line in lines:
            if sum(1 for m in line.members if m in marks) == 1:
                changed |= _suppress_next(line, counts, marks)
        if changed:
            continue
        released = Protected(Method.SUPPRESS, counts, marks)
        pinned = disclosed(released, lines) or exactly_disclosed(released, lines)
        for key in sorted(pinned):
            if any(_suppress_next(line, counts, marks) for line in by_key.get(key, ())):
                changed = True
                break
        if not changed:
            return Protected(Method.SUPPRESS, dict(counts), dict(marks))


def _rounded(counts: Mapping[Key, int], lines: Sequence[Line]) -> Protected:
    values = {k: round5(v) for k, v in counts.items()}
    marks: dict[Key, Mark] = {}
    by_key = _lines_by_key(lines)
    while True:
        shown_now = Protected(Method.ROUND5, values, marks)
        pinned = sorted(disclosed(shown_now, lines) or exactly_disclosed(shown_now, lines))
        fresh = [k for k in pinned if k not in marks]
        if fresh:
            marks.update((k, Mark.COMPLEMENTARY) for k in fresh)
            continue
        if not any(_suppress_next(line, values, marks) for k in pinned for line in by_key.get(k, ())):
            return Protected(Method.ROUND5, values, marks)


def _lines_by_key(lines: Iterable[Line]) -> dict[Key, list[Line]]:
    by_key: dict[Key, list[Line]] = {}
    for line in lines:
        for member in line.members:
            by_key.setdefault(member, []).append(line)
    return by_key


def _suppress_next(line: Line, counts: Mapping[Key, int], marks: dict[Key, Mark]) -> bool:
    """Suppress the smallest shown member of ``line`` (a cell before its total); False if none."""
    shown_members = [m for m in line.members if m not in marks]
    if not shown_members:
        return False
    smallest = min(shown_members, key=lambda m: (counts[m], m == line.total, m))
    marks[smallest] = Mark.COMPLEMENTARY
    return True


Bounds = dict[Key, tuple[float, float]]


def known_bounds(release: Protected) -> Bounds:
    """What a reader knows of each count before using any relation."""
    bounds: Bounds = {}
    for key, value in release.values.items():
        mark = release.marks.get(key)
        if mark is Mark.SMALL:
            bounds[key] = (0, SMALL_CELL - 1)
        elif mark is Mark.COMPLEMENTARY:
            bounds[key] = (SMALL_CELL, math.inf) if release.method is Method.SUPPRESS \
                else (0, math.inf)
        elif release.method is Method.ROUND5:
            half = ROUNDING_BASE // 2
            bounds[key] = (max(0, value - half), value + half)
        else:
            bounds[key] = (value, value)
    return bounds


def propagate(bounds: Bounds, lines: Sequence[Line]) -> Bounds:
    """Narrow ``bounds`` with every line's equation until nothing changes (interval reasoning:
    a part is at least the total's lower bound minus the others' upper bounds, and so on)."""
    b = dict(bounds)
    changed = True
    while changed:
        changed = False
        for line in lines:
            parts = [b[p] for p in line.parts]
            lo_sum = sum(lo for lo, _ in parts)
            finite_hi = sum(hi for _, hi in parts if hi != math.inf)
            unbounded = sum(1 for _, hi in parts if hi == math.inf)
            t_lo, t_hi = b[line.total]
            total = (max(t_lo, lo_sum), min(t_hi, math.inf if unbounded else finite_hi))
            if total != b[line.total]:
                b[line.total], changed = total, True
            for p, (p_lo, p_hi) in zip(line.parts, parts, strict=True):
                if p_hi == math.inf:
                    others_hi = math.inf if unbounded > 1 else finite_hi
                else:
                    others_hi = math.inf if unbounded else finite_hi - p_hi
                lo = max(p_lo, total[0] - others_hi)
                hi = min(p_hi, total[1] - (lo_sum - p_lo))
                if (lo, hi) != (p_lo, p_hi):
                    b[p], changed = (lo, hi), True
    return b


def disclosed(release: Protected, lines: Sequence[Line]) -> set[Key]:
    """Hidden counts (suppressed; under ``round5`` every count) that interval reasoning brings
    to a single value."""
    bounds = propagate(known_bounds(release), lines)
    hidden = release.values.keys() if release.method is Method.ROUND5 else release.marks.keys()
    return {k for k in hidden if bounds[k][0] == bounds[k][1]}


def exactly_disclosed(release: Protected, lines: Sequence[Line]) -> set[Key]:
    """Hidden counts that come back to one value when the whole system is solved at once: for
    each, the smallest and largest whole number it can be given every published count, every
    bound and every line (mixed-integer programs, scipy's HiGHS). Exact where :func:`disclosed`
    is not: several lines together can pin a cell that no line pins alone. Counts already known
    are folded into the equations, and each group of lines sharing an unknown is solved alone.
    """
    bounds = propagate(known_bounds(release), lines)
    hidden = release.values.keys() if release.method is Method.ROUND5 else release.marks.keys()
    pinned = {k for k in hidden if bounds[k][0] == bounds[k][1]}
    equations: list[tuple[dict[Key, float], float]] = []
    for line in lines:
        terms: dict[Key, float] = {}
        rhs = 0.0
        for key, sign in ((line.total, 1.0), *((p, -1.0) for p in line.parts)):
            lo, hi = bounds[key]
            if lo == hi:
                rhs -= sign * lo
            else:
                terms[key] = terms.get(key, 0.0) + sign
        if terms:
            equations.append((terms, rhs))
    for group, rows in _components(equations):
        for key in sorted(k for k in group if k in hidden and k not in pinned):
            if _solve_ends(key, group, rows, bounds):
                pinned.add(key)
    return pinned


def _components(equations: list[tuple[dict[Key, float], float]]
                ) -> list[tuple[list[Key], list[tuple[dict[Key, float], float]]]]:
    """Groups of unknowns linked by equations, each with its equations."""
    parent: dict[Key, Key] = {}

    def root(k: Key) -> Key:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for terms, _ in equations:
        first, *rest = terms
        for k in rest:
            parent[root(k)] = root(first)
    groups: dict[Key, tuple[list[Key], list[tuple[dict[Key, float], float]]]] = {}
    for terms, rhs in equations:
        groups.setdefault(root(next(iter(terms))), ([], []))[1].append((terms, rhs))
    for k in parent:
        groups[root(k)][0].append(k)
    return [(sorted(keys), rows) for keys, rows in groups.values()]


def _solve_ends(key: Key, group: list[Key], rows: list[tuple[dict[Key, float], float]],
                bounds: Bounds) -> bool:
    """Whether ``key``'s smallest and largest whole values, under ``rows``, are equal."""
    # numpy and scipy load only when a release is protected: the CLI must start light.
    import numpy as np
    from scipy.optimize import Bounds as Box  # type: ignore[import-untyped]
    from scipy.optimize import LinearConstraint, milp

    index = {k: i for i, k in enumerate(group)}
    matrix = np.zeros((len(rows), len(group)))
    rhs = np.array([r for _, r in rows])
    for row, (terms, _) in enumerate(rows):
        for k, coefficient in terms.items():
            matrix[row, index[k]] = coefficient
    box = Box(np.array([bounds[k][0] for k in group], dtype=float),
              np.array([bounds[k][1] for k in group], dtype=float))
    ends: list[float] = []
    for sign in (1.0, -1.0):
        objective = np.zeros(len(group))
        objective[index[key]] = sign
        result = milp(objective, constraints=[LinearConstraint(matrix, rhs, rhs)], bounds=box,
                      integrality=np.ones(len(group)))
        if result.status != 0:  # unbounded above: an x that nothing caps
            return False
        ends.append(round(sign * result.fun))
    return ends[0] == ends[1]
