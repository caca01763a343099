"""The release as one XLSX workbook: a sheet per table, numbers as numbers. Deterministic.

Written with XlsxWriter (write-only, no Excel needed to read it back). The first sheet says what
the workbook is, the period and how counts are protected; ``Key figures`` holds the measures;
then one sheet per table, in the report's order, with its total. A shown count is a number
cell; a suppressed one is the text ``<5`` (under 5) or ``x`` (hidden so that a small count
cannot be worked out), in grey, so a sum over a column never silently counts it as zero. The
document's creation date is fixed and XlsxWriter stamps its zip entries with a fixed date, so
the same release gives the same bytes (nothing records when it ran; the report's title does).
Per-situation microdata never goes in the workbook.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

from services.analytics.privacy import (
    COMPLEMENTARY,
    ROUNDING_BASE,
    SUPPRESSED,
    SUPPRESSED_MEASURE,
    Key,
    Method,
)
from services.analytics.release import GRIDS, Release, Table

FIXED_CREATED = datetime(2000, 1, 1)
"""The document's creation date: a constant, not the time of the run."""


def sheet_name(table: Table) -> str:
    """A sheet name Excel accepts (31 characters at most) that still says which table."""
    return table.name.replace("requests.", "req ")[:31]


def write_workbook(path: Path, rel: Release, *, period: str) -> Path:
    """Write ``rel`` to ``path`` (``statistics.xlsx``)."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    wb.set_properties({"title": "COMMANDE Tables statistics", "created": FIXED_CREATED,
                       "comments": "Synthetic or de-identified data; protected counts."})
    bold = wb.add_format({"bold": True})
    title = wb.add_format({"bold": True, "font_size": 13})
    hidden = wb.add_format({"font_color": "#777777", "align": "right", "italic": True})
    number = wb.add_format({"num_format": "0"})
    decimal = wb.add_format({"num_format": "0.0"})
    p = rel.protected
    note = (f"Counts rounded to base {ROUNDING_BASE}." if p.method is Method.ROUND5 else
            "Counts are exact where shown.")

    readme = wb.add_worksheet("Read me")
    readme.set_column(0, 0, 110)
    for i, (text, fmt) in enumerate((
            ("COMMANDE Tables: situations and community event requests", title),
            (f"Period: {period}", bold),
            ("Synthetic or de-identified data only. One sheet per table; numbers are numbers.",
             None),
            (f"'{SUPPRESSED}': fewer than 5. '{COMPLEMENTARY}': 5 or more, hidden so that a small "
             "count cannot be worked out from the totals (complementary suppression).", None),
            (f"Rates, medians and percentiles on fewer than 5 or on a hidden count read "
             f"'{SUPPRESSED_MEASURE}'. {note}", None),
            ("The data dictionary (data_dictionary.md) defines every table and measure.", None))):
        readme.write_string(i, 0, text, fmt)

    key = wb.add_worksheet("Key figures")
    key.set_column(0, 0, 60)
    key.set_column(1, 2, 12)
    key.write_row(0, 0, ("Measure", "Value", "Unit"), bold)
    for i, m in enumerate(rel.measures, start=1):
        key.write_string(i, 0, m.label)
        if m.unit == "count":
            assert m.key is not None
            _count(key, i, 1, p.shown(m.key), p.text(m.key), number, hidden)
        elif m.value is None:
            key.write_string(i, 1, SUPPRESSED_MEASURE, hidden)
        else:
            key.write_number(i, 1, m.value, decimal)
        key.write_string(i, 2, m.unit)

    for t in rel.tables:
        ws = wb.add_worksheet(sheet_name(t))
        ws.write_string(0, 0, t.title, title)
        ws.write_string(1, 0, t.note)
        ws.set_column(0, 0, 44)
        if t.name in GRIDS:
            _grid(ws, rel, t, bold, number, hidden)
            continue
        ws.set_column(1, 1, 12)
        ws.write_row(3, 0, (t.headings[0], "Count"), bold)
        row = 4
        for r in t.rows:
            ws.write_string(row, 0, r.labels[0])
            _count(ws, row, 1, p.shown(r.key), p.text(r.key), number, hidden)
            row += 1
        if t.total is not None:
            ws.write_string(row, 0, "Total", bold)
            _count(ws, row, 1, p.shown(t.total), p.text(t.total), number, hidden)
    wb.close()
    return path


def _count(ws: Any, row: int, col: int, value: int | None, text: str, number: Any,
           hidden: Any) -> None:
    if value is None:
        ws.write_string(row, col, text, hidden)
    else:
        ws.write_number(row, col, value, number)


def _grid(ws: Any, rel: Release, t: Table, bold: Any, number: Any, hidden: Any) -> None:
    p = rel.protected
    rows_of, cols_of, grand = GRIDS[t.name]
    firsts = list(dict.fromkeys((r.codes[0], r.labels[0]) for r in t.rows))
    seconds = list(dict.fromkeys((r.codes[1], r.labels[1]) for r in t.rows))
    cells = {r.codes: r.key for r in t.rows}
    ws.set_column(1, len(seconds) + 1, 14)
    ws.write_row(3, 0, (t.headings[0], *(label for _, label in seconds), "Total"), bold)
    for i, (code, label) in enumerate(firsts, start=4):
        ws.write_string(i, 0, label)
        for j, (second, _) in enumerate(seconds, start=1):
            k = cells[(code, second)]
            _count(ws, i, j, p.shown(k), p.text(k), number, hidden)
        total: Key = (rows_of, code)
        _count(ws, i, len(seconds) + 1, p.shown(total), p.text(total), number, hidden)
    if cols_of is not None:
        last = len(firsts) + 4
        ws.write_string(last, 0, "Total", bold)
        for j, (second, _) in enumerate(seconds, start=1):
            k = (cols_of, second)
            _count(ws, last, j, p.shown(k), p.text(k), number, hidden)
        _count(ws, last, len(seconds) + 1, p.shown(grand), p.text(grand), number, hidden)
