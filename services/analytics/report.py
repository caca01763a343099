"""The analyst's report: one static HTML page, every table of a protected release with its chart.

It reads a :class:`~services.analytics.release.Release`, so it shows exactly what the CSV,
Parquet and workbook files hold: names and order from the reference data, counts with their
totals, ``<5`` for a small count and ``x`` for one hidden so that a small one cannot be worked
out, rates as percentages, times in hours or days, ``suppressed`` for a measure on a small or
hidden base. The title gives the reporting period and when the report was generated.

Charts are drawn with matplotlib's Agg canvas directly (no pyplot, no global figure state), with
fixed rcParams (``svg.hashsalt``, DejaVu Sans, fixed DPI) and PNG metadata reduced to nothing, so
the same release and generation time give the same bytes. Each bar carries its value; a
suppressed one is not drawn and reads ``<5`` or ``x`` at the baseline.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from services.analytics.privacy import (
    COMPLEMENTARY,
    ROUNDING_BASE,
    SUPPRESSED,
    SUPPRESSED_MEASURE,
    Method,
    Protected,
)
from services.analytics.release import GRIDS, MONTH_NAMES, Measure, Release, Table, month_name

RC: dict[Any, Any] = {
    "svg.hashsalt": "commande-analytics",
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "figure.dpi": 100.0,
    "savefig.dpi": 100.0,
    "path.simplify": True,
}
HORIZONTAL_FROM = 7
"""Tables with this many rows or more are drawn as horizontal bars (long names)."""
Point = tuple[str, int | None, str]
"""(label, count or ``None`` when suppressed, the text shown)."""


def period(rel: Release, start: datetime | None = None, end: datetime | None = None) -> str:
    """The reporting period in words: the replay's range when given, else the months seen."""
    months = [m for m in rel.months if m != "unknown"]
    first = f"{start:%Y-%m-%d}" if start else month_name(months[0]) if months else "the beginning"
    last = f"{end:%Y-%m-%d}" if end else month_name(months[-1]) if months else "now"
    return first if first == last else f"{first} to {last}"


def title_of(rel: Release, generated_at: datetime, start: datetime | None = None,
             end: datetime | None = None) -> str:
    """The report's title: what, the period, and when it was generated (UTC)."""
    return (f"COMMANDE Tables: situations and community event requests, {period(rel, start, end)}"
            f" (generated {generated_at:%Y-%m-%d %H:%M} UTC)")


CHART_LABEL = 40
"""Longer names are cut (with an ellipsis) on the charts; the tables give them in full."""


def _label(name: str) -> str:
    return name if len(name) <= CHART_LABEL else name[:CHART_LABEL - 1].rstrip() + "…"


def points(rel: Release, table: Table) -> list[Point]:
    """What a one-way table's chart draws, already protected."""
    p = rel.protected
    return [(_label(row.labels[0]), p.shown(row.key), p.text(row.key)) for row in table.rows]


def chart_data(rel: Release) -> dict[str, dict[str, list[Point]]]:
    """Every chart: table name → series name → points (protected)."""
    out: dict[str, dict[str, list[Point]]] = {}
    for t in rel.tables:
        if t.name in GRIDS:
            out[t.name] = _grid_series(rel, t)
        elif t.rows:
            out[t.name] = {t.title: points(rel, t)}
    return out


def _grid_series(rel: Release, t: Table) -> dict[str, list[Point]]:
    p = rel.protected
    series: dict[str, list[Point]] = {}
    for row in t.rows:
        series.setdefault(row.labels[1], []).append(
            (_short(row.labels[0]), p.shown(row.key), p.text(row.key)))
    return series


def _short(label: str) -> str:
    name, _, year = label.partition(" ")
    return f"{name[:3]} {year}" if name in MONTH_NAMES else label


def png(title: str, series: Mapping[str, Sequence[Point]], *, horizontal: bool = False,
        wide: bool = False) -> bytes:
    """One bar chart (grouped when several series) with its values, as PNG bytes."""
    with matplotlib.rc_context(RC):
        labels = [label for label, _, _ in next(iter(series.values()), [])]
        height = max(2.6, 0.24 * len(labels) + 1.0) if horizontal else 3.2
        fig = Figure(figsize=(9.0 if wide else 6.2, height))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        width = 0.8 / max(len(series), 1)
        top = max((v for pts in series.values() for _, v, _ in pts if v is not None), default=0)
        top = max(top, 1)
        for i, (name, pts) in enumerate(series.items()):
            xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(pts))]
            heights = [v if v is not None else 0 for _, v, _ in pts]
            bars = (ax.barh if horizontal else ax.bar)(xs, heights, width, label=name)
            texts = [text for _, _, text in pts]
            ax.bar_label(bars, labels=texts, fontsize=7, padding=2)
        ticks = list(range(len(labels)))
        if horizontal:
            ax.set_yticks(ticks, labels)
            ax.invert_yaxis()
            ax.set_xlim(0, top * 1.15)
        else:
            ax.set_xticks(ticks, labels, rotation=45 if len(labels) > 6 else 0,
                          ha="right" if len(labels) > 6 else "center")
            ax.set_ylim(0, top * 1.15)
        ax.set_title(title)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if len(series) > 1:
            ax.legend(fontsize=7, ncols=min(len(series), 4))
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def measure_text(p: Protected, m: Measure) -> str:
    """A measure as a person reads it: ``12``, ``<5``, ``20.5 hours``, ``16.5 %``."""
    if m.unit == "count":
        assert m.key is not None
        return p.text(m.key)
    if m.value is None:
        return SUPPRESSED_MEASURE
    if m.unit == "percent":
        return f"{m.value:.1f} %"
    return f"{m.value:.1f} {m.unit}"


def _img(title: str, data: bytes) -> str:
    return (f'<img alt="{html.escape(title)}" '
            f'src="data:image/png;base64,{base64.b64encode(data).decode()}">')


def _one_way(rel: Release, t: Table) -> str:
    p = rel.protected
    body = [f"<tr><td>{html.escape(r.labels[0])}</td><td class=\"count\">"
            f"{html.escape(p.text(r.key))}</td></tr>" for r in t.rows]
    if t.total is not None:
        body.append(f"<tr class=\"total\"><th>Total</th><td class=\"count\">"
                    f"{html.escape(p.text(t.total))}</td></tr>")
    head = f"<tr><th>{html.escape(t.headings[0])}</th><th>Count</th></tr>"
    return f"<table>{head}{''.join(body)}</table>"


def _two_way(rel: Release, t: Table) -> str:
    p = rel.protected
    rows_of, cols_of, grand = GRIDS[t.name]
    firsts = list(dict.fromkeys((r.codes[0], r.labels[0]) for r in t.rows))
    seconds = list(dict.fromkeys((r.codes[1], r.labels[1]) for r in t.rows))
    cell = {r.codes: r.key for r in t.rows}
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in seconds)
    out = [f"<table><tr><th>{html.escape(t.headings[0])}</th>{head}<th>Total</th></tr>"]
    for code, label in firsts:
        cells = "".join(f'<td class="count">{html.escape(p.text(cell[(code, c)]))}</td>'
                        for c, _ in seconds)
        out.append(f"<tr><td>{html.escape(label)}</td>{cells}<td class=\"count\">"
                   f"{html.escape(p.text((rows_of, code)))}</td></tr>")
    if cols_of is not None:
        cells = "".join(f'<td class="count">{html.escape(p.text((cols_of, c)))}</td>'
                        for c, _ in seconds)
        out.append(f"<tr class=\"total\"><th>Total</th>{cells}<td class=\"count\">"
                   f"{html.escape(p.text(grand))}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _section(rel: Release, t: Table, level: int, charts: Mapping[str, Mapping[str, Sequence[Point]]]
             ) -> list[str]:
    grid = t.name in GRIDS
    parts = [f"<h{level}>{html.escape(t.title)}</h{level}>", f"<p>{html.escape(t.note)}</p>",
             '<div class="stack">' if grid else '<div class="pair">']
    if t.rows:
        parts.append(_img(t.title, png(t.title, charts[t.name], wide=grid,
                                       horizontal=len(t.rows) >= HORIZONTAL_FROM and not grid)))
    parts += [_two_way(rel, t) if grid else _one_way(rel, t), "</div>"]
    return parts


def render(rel: Release, *, title: str, context: Sequence[tuple[str, str]]) -> str:
    """The report as one self-contained HTML page (with a community event requests section
    when the release has one)."""
    p = rel.protected
    charts = chart_data(rel)
    rounding = (f" Counts are rounded to base {ROUNDING_BASE} (0-2 down, 3-4 up; totals on "
                "their own, so a table need not add up)." if p.method is Method.ROUND5 else "")
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:'DejaVu Sans',sans-serif;max-width:70em;margin:2em auto;"
        "color:#222}h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ccc}"
        "table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #bbb;"
        "padding:2px 8px;text-align:left}td.count,td.measure{text-align:right}"
        "tr.total th,tr.total td{font-weight:bold;background:#f3f3f3}img{max-width:100%}"
        ".pair{display:flex;gap:1.5em;align-items:flex-start;flex-wrap:wrap}"
        ".pair img{max-width:62%}"
        ".legend{background:#f6f6f0;padding:.5em 1em;border-left:4px solid #999}</style>",
        "</head>", "<body>", f"<h1>{html.escape(title)}</h1>",
        '<p class="legend">Synthetic or de-identified data only. '
        f"<strong>{html.escape(SUPPRESSED)}</strong>: fewer than 5. "
        f"<strong>{COMPLEMENTARY}</strong>: 5 or more, hidden so that a small count cannot be "
        "worked out from the totals. Rates, medians and percentiles on fewer than 5 or on a "
        f"hidden count read <em>{SUPPRESSED_MEASURE}</em>.{rounding}</p>",
        "<h2>Key figures</h2>",
        "<table><tr><th>Measure</th><th>Value</th></tr>" + "".join(
            f"<tr><td>{html.escape(m.label)}</td><td class=\"measure\">"
            f"{html.escape(measure_text(p, m))}</td></tr>" for m in rel.measures) + "</table>",
    ]
    for t in rel.tables:
        if t.section == "situations":
            parts += _section(rel, t, 2, charts)
    requests = [t for t in rel.tables if t.section == "event_requests"]
    if requests:
        parts += ["<h2>Community event requests</h2>",
                  "<p>From intake's de-identified stream. Month: of intake's answer (when the "
                  "request was received); event month: of the earliest preferred date.</p>",
                  "<table><tr><th>Measure</th><th>Value</th></tr><tr><td>Requests answered"
                  f"</td><td class=\"count\">{html.escape(p.text(('requests.total',)))}</td>"
                  "</tr></table>"]
        for t in requests:
            parts += _section(rel, t, 3, charts)
    parts += ["<h2>About this report</h2>",
              "<table><tr><th>Parameter</th><th>Value</th></tr>" + "".join(
                  f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                  for k, v in context) + "</table>",
              "</body>", "</html>", ""]
    return "\n".join(parts)


def write_report(path: Path, rel: Release, *, title: str,
                 context: Sequence[tuple[str, str]]) -> Path:
    """Write the report to ``path``."""
    path.write_text(render(rel, title=title, context=context), encoding="utf-8")
    return path
