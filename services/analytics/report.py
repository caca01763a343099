"""The static HTML report: suppressed tables and four charts as embedded PNG. Deterministic.

Charts are drawn with matplotlib's Agg canvas directly (no pyplot, no global figure state), with
fixed rcParams (``svg.hashsalt``, DejaVu Sans, fixed DPI) and PNG metadata reduced to nothing, so
the same statistics give the same bytes. A bar whose count is under 5 is not drawn: it is
labelled ``<5`` at the baseline, like the tables.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from services.analytics.exports import measures
from services.analytics.privacy import SUPPRESSED, cell, shown
from services.analytics.projections import event_requests
from services.analytics.projections.event_requests import RequestStatistics
from services.analytics.projections.statistics import TABLES, Statistics

RC: dict[Any, Any] = {
    "svg.hashsalt": "commande-analytics",
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "figure.dpi": 100.0,
    "savefig.dpi": 100.0,
    "path.simplify": True,
}
MOBILIZATION_BINS: tuple[tuple[str, float, float], ...] = (
    ("0-12 h", 0.0, 12.0), ("12-24 h", 12.0, 24.0), ("24-48 h", 24.0, 48.0),
    ("48-72 h", 48.0, 72.0), ("72 h +", 72.0, float("inf")),
)
Series = list[tuple[str, int | None]]
"""(label, count or ``None`` when suppressed)."""


def chart_data(stats: Statistics) -> dict[str, dict[str, Series]]:
    """What each chart draws, already suppressed: chart → series name → points."""
    months = sorted({k[0] for k in stats.counts["month_district"]})
    districts = sorted({k[1] for k in stats.counts["month_district"]})
    by_month = {d: [(m, shown(stats.counts["month_district"].get((m, d), 0))) for m in months]
                for d in districts}
    hist = [(label, shown(sum(1 for h in stats.mobilization_hours if lo <= h < hi)))
            for label, lo, hi in MOBILIZATION_BINS]
    return {
        "situations_per_month_by_district": by_month,
        "risk_categories": {"situations": _series(stats.counts["risk_category"])},
        "mobilization_time": {"situations": hist},
        "conclusions": {"situations": _series(stats.counts["conclusion"])},
    }


def _series(counts: Mapping[tuple[str, ...], int]) -> Series:
    return [(key[0], shown(n)) for key, n in sorted(counts.items())]


def png(title: str, series: dict[str, Series], *, horizontal: bool = False) -> bytes:
    """One bar chart (grouped when several series) as PNG bytes."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8.0, 4.0))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        labels = [label for label, _ in next(iter(series.values()), [])]
        width = 0.8 / max(len(series), 1)
        for i, (name, points) in enumerate(series.items()):
            xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(points))]
            heights = [v if v is not None else 0 for _, v in points]
            bar = ax.barh if horizontal else ax.bar
            bar(xs, heights, width, label=name)
            for x, (_, v) in zip(xs, points, strict=True):
                if v is None:
                    if horizontal:
                        ax.text(0, x, f" {SUPPRESSED}", va="center", fontsize=7)
                    else:
                        ax.text(x, 0, SUPPRESSED, ha="center", va="bottom", fontsize=7)
        ticks = list(range(len(labels)))
        if horizontal:
            ax.set_yticks(ticks, labels)
            ax.invert_yaxis()
        else:
            ax.set_xticks(ticks, labels, rotation=45, ha="right")
        ax.set_title(title)
        if len(series) > 1:
            ax.legend()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


CHART_TITLES = {
    "situations_per_month_by_district": "Situations per month by district",
    "risk_categories": "Risk categories (situations not rejected)",
    "mobilization_time": "Service mobilization time (AER confirmed to first contact)",
    "conclusions": "Conclusions",
}


def render(stats: Statistics, *, title: str, context: Sequence[tuple[str, str]],
           requests: RequestStatistics | None = None) -> str:
    """The report as one self-contained HTML page (with a community event requests section
    when ``requests`` is given)."""
    charts = chart_data(stats)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 8px}"
        "td.count,td.measure{text-align:right}</style>",
        "</head>", "<body>", f"<h1>{html.escape(title)}</h1>",
        "<p>Synthetic or de-identified data only. Counts under 5 are shown as &lt;5; rates, "
        "medians and percentiles resting on fewer than 5 are suppressed.</p>",
        _table(("parameter", "value"), context),
        "<h2>Measures</h2>",
        _table(("measure", "value"), measures(stats),
               lambda row: "measure" if row[0].endswith(("_hours", "_rate")) else "count"),
    ]
    for name, series in charts.items():
        data = base64.b64encode(png(CHART_TITLES[name], series,
                                    horizontal=name in {"risk_categories", "conclusions"}))
        parts += [f"<h2>{html.escape(CHART_TITLES[name])}</h2>",
                  f'<img alt="{html.escape(CHART_TITLES[name])}" '
                  f'src="data:image/png;base64,{data.decode()}">']
    for name, keys in TABLES:
        rows = [(*k, cell(n)) for k, n in stats.counts[name].items()]
        parts += [f"<h2>Counts by {html.escape(name.replace('_', ' '))}</h2>",
                  _table((*keys, "count"), rows, lambda _row: "count")]
    if requests is not None:
        parts += _requests_section(requests)
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _requests_section(requests: RequestStatistics) -> list[str]:
    """Community event requests: a chart by district and kind, and every count table."""
    parts = ["<h2>Community event requests</h2>",
             "<p>From intake's de-identified stream. Month: of intake's answer (when the request "
             "was received); event month: of the earliest preferred date.</p>",
             _table(("measure", "value"), [("requests", cell(requests.requests))],
                    lambda _row: "count")]
    series = {"requests": _series(requests.counts["district"])}
    if any(n for n in requests.counts["district"].values()):
        title = "Community event requests by district"
        data = base64.b64encode(png(title, series))
        parts += [f'<img alt="{title}" src="data:image/png;base64,{data.decode()}">']
    for name, keys in event_requests.TABLES:
        rows = [(*k, cell(n)) for k, n in requests.counts[name].items()]
        parts += [f"<h3>Event requests by {html.escape(name.replace('_', ' '))}</h3>",
                  _table((*keys, "count"), rows, lambda _row: "count")]
    return parts


def _table(header: Sequence[str], rows: Sequence[Sequence[str]],
           last: Callable[[Sequence[str]], str] | None = None) -> str:
    """An HTML table; ``last`` gives the class of each row's last cell (``count``, ...)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for r in rows:
        cells = [f"<td>{html.escape(v)}</td>" for v in r[:-1]]
        cls = f' class="{last(r)}"' if last is not None else ""
        cells.append(f"<td{cls}>{html.escape(r[-1])}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def write_report(path: Path, stats: Statistics, *, title: str,
                 context: Sequence[tuple[str, str]],
                 requests: RequestStatistics | None = None) -> Path:
    """Write the report to ``path``."""
    path.write_text(render(stats, title=title, context=context, requests=requests),
                    encoding="utf-8")
    return path
