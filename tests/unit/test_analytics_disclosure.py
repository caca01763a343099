"""The subtraction attack on every table of a release: no suppressed count comes back.

The attacker knows every published count, every total (the same quantity published in several
tables is one key), the relations between tables that share margins (month x district adds up
to both the month and the district tables; a rate's base is its numerator plus its complement),
that a ``<5`` is 0 to 4 and an ``x`` is 5 or more (under rounding: each count within 2 of what
is shown), and that counts are whole numbers. For each hidden count the attack computes the
exact integer interval it can lie in (a mixed-integer program, scipy's HiGHS: minimise, then
maximise it subject to every relation); one that comes back to a single value is disclosed.
It is written here, apart from the audit inside :func:`services.analytics.privacy.protect`
(which solves the same question its own way, after a cheaper interval propagation), and it
takes the relations from the published tables as well as from the release's list of lines.

Run on simulated histories (the ``commande simulate events`` generator in process, no Kafka):
a year of a realistic size, and a quarter of a small table where most cells are small. The same
attack undoes the old primary-only suppression, so it can fail.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from functools import cache

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp  # type: ignore[import-untyped]

from schemas.envelope import from_record
from services.analytics import release
from services.analytics.privacy import (
    SMALL_CELL,
    Key,
    Line,
    Mark,
    Method,
    Protected,
    primary_only,
    protect,
)
from services.analytics.projections import FACTS, Keyed
from services.analytics.projections import event_requests as er
from services.analytics.projections.facts import SituationFacts
from services.analytics.projections.statistics import summarize
from services.analytics.run import agency_types
from services.analytics.simulate import Plan, generate

pytestmark = pytest.mark.unit

YEAR = Plan(situations=240, seed=1, months=12, event_requests=60)
"""About the demand of one busy table (domain.md: 213 referrals in a year), over a year."""
SMALL_QUARTER = Plan(situations=24, seed=3, months=3, event_requests=9)
"""A quarter of a small table: most cells are under 5."""


def attack(published: Protected, lines: Sequence[Line]) -> dict[Key, tuple[float, float]]:
    """The exact integer interval of every hidden count, from everything published."""
    keys = sorted(published.values)
    index = {k: i for i, k in enumerate(keys)}
    lo = np.zeros(len(keys))
    hi = np.zeros(len(keys))
    for k in keys:
        shown = published.values[k]
        mark = published.mark(k)
        if mark is Mark.SMALL:
            lo[index[k]], hi[index[k]] = 0, SMALL_CELL - 1
        elif mark is Mark.COMPLEMENTARY:
            lo[index[k]] = SMALL_CELL if published.method is Method.SUPPRESS else 0
            hi[index[k]] = np.inf
        elif published.method is Method.ROUND5:
            lo[index[k]], hi[index[k]] = max(0, shown - 2), shown + 2
        else:
            lo[index[k]] = hi[index[k]] = shown
    matrix = np.zeros((len(lines), len(keys)))
    for row, line in enumerate(lines):
        matrix[row, index[line.total]] = 1
        for part in line.parts:
            matrix[row, index[part]] -= 1
    constraints = LinearConstraint(matrix, np.zeros(len(lines)), np.zeros(len(lines)))
    hidden = [k for k in keys if lo[index[k]] != hi[index[k]]]
    out: dict[Key, tuple[float, float]] = {}
    for k in hidden:
        ends: list[float] = []
        for sign in (1.0, -1.0):
            c = np.zeros(len(keys))
            c[index[k]] = sign
            result = milp(c, constraints=constraints, bounds=Bounds(lo, hi),
                          integrality=np.ones(len(keys)))
            if sign < 0 and result.status != 0 and hi[index[k]] == np.inf:
                ends.append(math.inf)  # the minimum was feasible: no upper bound
                continue
            assert result.status == 0, (k, result.message)
            ends.append(round(sign * result.fun))
        out[k] = (ends[0], ends[1])
    return out


def recovered(published: Protected, lines: Sequence[Line]) -> dict[Key, float]:
    """Hidden counts the attack brings back to one value."""
    return {k: a for k, (a, b) in attack(published, lines).items() if a == b}


@cache
def simulated(plan: Plan) -> release.Release:
    facts: Keyed[SituationFacts] = Keyed(FACTS.fold)
    requests = er.ByRequest()
    for r in generate(plan):
        envelope = from_record(r.record.headers, r.record.value, topic=r.record.topic)
        facts.apply(envelope)
        requests.apply(envelope)
    return release.build(summarize(facts.states(), agency_types()), er.summarize(requests.states()))


def relations(rel: release.Release) -> list[Line]:
    """What a reader knows adds up: every table with its total, both margins of every two-way
    table (read from the published tables), and the release's own list (rates, cross-table)."""
    derived = {Line(t.total, tuple(r.key for r in t.rows)) for t in rel.tables
               if t.total is not None}
    for name, (rows_of, cols_of, _grand) in release.GRIDS.items():
        grid = [t for t in rel.tables if t.name == name]
        for t in grid:
            for first in dict.fromkeys(r.codes[0] for r in t.rows):
                derived.add(Line((rows_of, first),
                                 tuple(r.key for r in t.rows if r.codes[0] == first)))
            for second in dict.fromkeys(r.codes[1] for r in t.rows):
                if cols_of is not None:
                    derived.add(Line((cols_of, second),
                                     tuple(r.key for r in t.rows if r.codes[1] == second)))
    return sorted(derived | set(rel.lines), key=repr)


def _check_lines_hold(rel: release.Release) -> None:
    """The relations the attacker uses are true of the real counts, and cover every table
    with a total and both margins of every two-way table."""
    for line in relations(rel):
        assert rel.counts[line.total] == sum(rel.counts[p] for p in line.parts)
    declared = {(line.total, frozenset(line.parts)) for line in rel.lines}
    for table in rel.tables:
        if table.total is not None:
            assert (table.total, frozenset(r.key for r in table.rows)) in declared, table.name
    grid = rel.table("month_district")
    for month in rel.table("month").rows:
        cells = frozenset(r.key for r in grid.rows if r.codes[0] == month.codes[0])
        assert (month.key, cells) in declared
    for district in rel.table("district").rows:
        cells = frozenset(r.key for r in grid.rows if r.codes[1] == district.codes[0])
        assert (district.key, cells) in declared


@pytest.mark.parametrize("plan", [YEAR, SMALL_QUARTER], ids=["year", "small-quarter"])
def test_no_suppressed_count_comes_back_from_any_table(plan: Plan) -> None:
    rel = simulated(plan)
    _check_lines_hold(rel)
    marks = rel.protected.marks
    assert any(m is Mark.SMALL for m in marks.values())
    assert any(m is Mark.COMPLEMENTARY for m in marks.values())
    assert recovered(rel.protected, relations(rel)) == {}
    for key, mark in marks.items():  # what is shown is true: <5 is under 5, x is 5 or more
        assert (rel.counts[key] < SMALL_CELL) == (mark is Mark.SMALL), key
    for key in rel.counts.keys() - marks.keys():
        assert rel.protected.shown(key) == rel.counts[key] >= SMALL_CELL


@pytest.mark.parametrize("plan", [YEAR, SMALL_QUARTER], ids=["year", "small-quarter"])
def test_the_same_attack_undoes_primary_suppression_alone(plan: Plan) -> None:
    rel = simulated(plan)
    old = primary_only(rel.counts)
    found = recovered(old, relations(rel))
    assert found
    assert all(rel.counts[k] == v for k, v in found.items())  # the attack is right, not lucky
    assert all(rel.counts[k] < SMALL_CELL for k in found)  # and what it found was hidden


@pytest.mark.parametrize("plan", [YEAR, SMALL_QUARTER], ids=["year", "small-quarter"])
def test_rounding_to_base_five_leaves_no_count_recoverable(plan: Plan) -> None:
    rel = simulated(plan)
    rounded = protect(rel.counts, rel.lines, Method.ROUND5)
    assert all(v % 5 == 0 for v in rounded.values.values())
    assert recovered(rounded, relations(rel)) == {}


def test_the_example_of_the_issue_is_protected() -> None:
    # district_1=20, district_2=12, district_3=2, total 34: primary alone gives district 3 away.
    counts: dict[Key, int] = {("total",): 34, ("d", "1"): 20, ("d", "2"): 12, ("d", "3"): 2}
    lines = [Line(("total",), (("d", "1"), ("d", "2"), ("d", "3")))]
    assert recovered(primary_only(counts), lines) == {("d", "3"): 2}
    protected = protect(counts, lines)
    assert protected.text(("d", "3")) == "<5"
    assert protected.text(("d", "2")) == "x"  # the next smallest in the line
    assert protected.text(("total",)) == "34"
    assert recovered(protected, lines) == {}
    interval = attack(protected, lines)
    assert interval[("d", "3")] == (0, 4)
    assert interval[("d", "2")] == (10, 14)
    assert not math.isinf(interval[("d", "2")][1])


def test_a_complementary_cell_that_would_pin_the_small_one_takes_the_total_too() -> None:
    # u = 5 = a (0) + b (5): with a shown as <5 (0-4) and b as x (5 or more), a + b = 5 pins
    # b = 5 and a = 0; the audit then suppresses the total as well.
    counts: dict[Key, int] = {("u",): 5, ("a",): 0, ("b",): 5}
    lines = [Line(("u",), (("a",), ("b",)))]
    protected = protect(counts, lines)
    assert [protected.text(k) for k in (("a",), ("b",), ("u",))] == ["<5", "x", "x"]
    assert recovered(protected, lines) == {}


def _grid(cells: list[list[int]]) -> tuple[dict[Key, int], list[Line]]:
    """A two-way table with its row, column and grand totals."""
    counts: dict[Key, int] = {("c", str(i), str(j)): v for i, row in enumerate(cells)
                              for j, v in enumerate(row)}
    lines = []
    for i, row in enumerate(cells):
        counts[("row", str(i))] = sum(row)
        lines.append(Line(("row", str(i)), tuple(("c", str(i), str(j)) for j in range(len(row)))))
    for j in range(len(cells[0])):
        counts[("col", str(j))] = sum(row[j] for row in cells)
        lines.append(Line(("col", str(j)), tuple(("c", str(i), str(j)) for i in range(len(cells)))))
    counts[("all",)] = sum(map(sum, cells))
    lines.append(Line(("all",), tuple(("row", str(i)) for i in range(len(cells)))))
    lines.append(Line(("all",), tuple(("col", str(j)) for j in range(len(cells[0])))))
    return counts, lines


def test_cells_that_only_all_the_lines_together_pin_are_protected_too() -> None:
    # Found by trying random tables: with line-by-line interval reasoning alone as the audit,
    # rows and columns together still pinned cell (1, 2) to 4 and (3, 1) to 0 here.
    counts, lines = _grid([[12, 2, 12, 6], [9, 0, 4, 3], [8, 12, 6, 6], [4, 0, 5, 8]])
    protected = protect(counts, lines)
    assert protected.text(("c", "1", "2")) == "<5"
    assert recovered(protected, lines) == {}


@pytest.mark.parametrize("seed", range(12))
def test_random_two_way_tables_keep_every_hidden_cell(seed: int) -> None:
    rng = random.Random(seed)
    cells = [[rng.choice((0, 1, 2, 3, 4, 5, 7, 9, 12, 20)) for _ in range(rng.randint(2, 4))]]
    cells += [[rng.choice((0, 1, 2, 3, 4, 5, 7, 9, 12, 20)) for _ in cells[0]]
              for _ in range(rng.randint(1, 4))]
    counts, lines = _grid(cells)
    for method in Method:
        protected = protect(counts, lines, method)
        assert recovered(protected, lines) == {}, (method, cells)
