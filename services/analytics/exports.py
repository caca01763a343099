"""Exports: CSV and Parquet with a data dictionary, for each projection. Deterministic.

The same input gives byte-identical files: rows are sorted, CSV uses ``\\n`` line ends, Parquet is
written with fixed options and no timestamps, and nothing records when it ran. Every count goes
through :mod:`.privacy` (``<5``); derived measures on small bases read ``suppressed``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa  # no stubs; not in pyproject overrides
import pyarrow.parquet as pq

from services.analytics.privacy import (
    SMALL_CELL,
    SUPPRESSED_MEASURE,
    cell,
    rate_allowed,
)
from services.analytics.projections import event_requests
from services.analytics.projections.event_requests import RequestStatistics
from services.analytics.projections.provincial import ProvincialRow
from services.analytics.projections.statistics import TABLES, Statistics
from services.analytics.projections.timeline import Timeline

Value = str | int | float | bool | date | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Column:
    """One exported column: name, Arrow type, meaning (the data dictionary's line)."""

    name: str
    type: pa.DataType
    description: str


@dataclass(frozen=True, slots=True)
class Dataset:
    """A table to export: its file stem, what it is, its columns and rows."""

    stem: str
    description: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Value, ...], ...]


LIST = pa.list_(pa.string())
_S, _D, _F, _B = pa.string(), pa.date32(), pa.float64(), pa.bool_()

PROVINCIAL_COLUMNS = (
    Column("row_number", pa.int64(), "Row number after sorting; not a situation id."),
    Column("district", _S, "HRPS district code (district_1, district_2, district_3)."),
    Column("table", _S, "The district's COMMANDE Table."),
    Column("situation_type", _S, "individual, family, group or location."),
    Column("priority", _S, "routine or urgent."),
    Column("opened_date", _D, "Day the situation was opened (Halton local time)."),
    Column("decision_date", _D, "Day of the Filter 2 decision."),
    Column("closed_date", _D, "Day it was concluded, or rejected/returned when not concluded."),
    Column("decision", _S, "Filter 2 decision: confirmed, rejected or returned."),
    Column("originating_agency_type", _S, "Type of the originating agency (directory)."),
    Column("lead_agency_type", _S, "Type of the lead agency (the latest named), if any."),
    Column("assisting_agency_types", LIST, "Types of the assisting agencies. Redacted if rejected."),
    Column("age_groups", LIST, "Age group of each person concerned. Redacted if rejected."),
    Column("genders", LIST, "Gender of each person concerned. Redacted if rejected."),
    Column("risk_factors", LIST, "Risk factors (category.factor). Redacted if rejected."),
    Column("risk_categories", LIST, "Risk categories of those factors. Redacted if rejected."),
    Column("protective_factors", LIST, "Protective factors. Redacted if rejected."),
    Column("study_flags", LIST, "Study flags. Redacted if rejected."),
    Column("services_mobilized", LIST, "Service sectors mobilized. Redacted if rejected."),
    Column("mobilization_hours", _F, "AER confirmed to first contact, hours (1 decimal)."),
    Column("conclusion", _S, "Conclusion code (reference data)."),
    Column("outcome", _S, "Broad outcome of the conclusion."),
    Column("redacted", _B, "True for a situation rejected as not AER (domain.md section 4)."),
)

STATISTICS_COLUMNS = (
    Column("table", _S, "Count table: " + ", ".join(name for name, _ in TABLES) + "."),
    Column("key", _S, "The category counted (district, month YYYY-MM, decision, ...); for "
           "month_district, the month."),
    Column("key_2", _S, "For month_district, the district; else empty."),
    Column("count", _S, f"Situations (persons for age_group); '<{SMALL_CELL}' under {SMALL_CELL}."),
)

MEASURE_COLUMNS = (
    Column("measure", _S, "What is measured (see the data dictionary's measure list)."),
    Column("value", _S, "The value: a count ('<5' under 5), hours, or a rate in [0, 1] "
           f"('{SUPPRESSED_MEASURE}' when it rests on fewer than {SMALL_CELL})."),
)

EVENT_REQUEST_COLUMNS = (
    Column("table", _S, "Count table: " + ", ".join(n for n, _ in event_requests.TABLES)
           + " (definitions below)."),
    Column("key", _S, "The category counted (answer, district, kind, month YYYY-MM, topic, "
           "outcome, reason code, ...); for month_district and outcome_district, the first "
           "key."),
    Column("key_2", _S, "For month_district and outcome_district, the district; else empty."),
    Column("count", _S, f"Community event requests; '<{SMALL_CELL}' under {SMALL_CELL}."),
)

EVENT_REQUEST_TABLES = {
    "total": "Every request intake answered (acknowledged, rejected, or from the public: "
             "pending its requester's confirmation or expired unconfirmed) in the range.",
    "answer": "Requests acknowledged or rejected by intake; from the public, pending while "
              "the requester's address is unconfirmed, expired when it never was.",
    "district": "Requests by district that follows up (rejections: when recognised).",
    "kind": "Requests by kind: speaker, district_tour, event_participation.",
    "month": "Requests by Halton local month of intake's answer (when received).",
    "month_district": "Requests by month of intake's answer and district.",
    "event_month": "Acknowledged requests by month of their earliest preferred date.",
    "topic": "Acknowledged requests naming each topic (one request may count in several).",
    "outcome": "Acknowledged requests by outcome: scheduled, declined, withdrawn or pending.",
    "outcome_district": "Acknowledged requests by outcome and district.",
    "decline_reason": "Declined requests by decline-reason code.",
    "withdrawal_reason": "Withdrawn requests by withdrawal-reason code.",
    "rejection_reason": "Rejected requests naming each reason code (every reason counts).",
    "follow_up": "Acknowledged requests reminded to the CMB manager (reminded) or escalated to "
                 "the Staff Sergeant (escalated).",
}

TIMELINE_COLUMNS = (
    Column("situation_id", _S, "The situation (an opaque UUIDv7)."),
    Column("seq", pa.int64(), "Position of the event in the situation's stream, from 1."),
    Column("at", _S, "The event's own time, RFC 3339 UTC."),
    Column("event", _S, "Event name (opened, aer_decision_recorded, ...)."),
    Column("detail", _S, "De-identified codes: decision, conclusion, agencies, SLA kind."),
)


def provincial_dataset(rows: Sequence[ProvincialRow]) -> Dataset:
    """The provincial-database-style rows."""
    names = [c.name for c in PROVINCIAL_COLUMNS]
    return Dataset("provincial_rows", "One de-identified row per closed situation.",
                   PROVINCIAL_COLUMNS, tuple(tuple(getattr(r, n) for n in names) for r in rows))


def statistics_datasets(stats: Statistics) -> tuple[Dataset, Dataset]:
    """The count tables (suppressed) and the measures."""
    counts: list[tuple[Value, ...]] = []
    for name, keys in TABLES:
        for key, n in stats.counts[name].items():
            counts.append((name, key[0], key[1] if len(keys) > 1 else "", cell(n)))
    return (
        Dataset("statistics", "Counts by dimension, small cells suppressed.", STATISTICS_COLUMNS,
                tuple(counts)),
        Dataset("measures", "Mobilization time, SLA and assignment measures.", MEASURE_COLUMNS,
                tuple((m, v) for m, v in measures(stats))),
    )


def event_request_dataset(stats: RequestStatistics) -> Dataset:
    """The community event request counts (suppressed), from the de-identified stream only."""
    rows: list[tuple[Value, ...]] = [("total", "requests", "", cell(stats.requests))]
    for name, keys in event_requests.TABLES:
        for key, n in stats.counts[name].items():
            rows.append((name, key[0], key[1] if len(keys) > 1 else "", cell(n)))
    return Dataset("event_requests", "Community event requests by answer, district, kind, "
                   "month, topic and outcome; small cells suppressed.", EVENT_REQUEST_COLUMNS,
                   tuple(rows))


def measures(stats: Statistics) -> list[tuple[str, str]]:
    """``(measure, value)`` pairs, suppressed where they rest on small counts."""
    n = len(stats.mobilization_hours)

    def hours(value: float | None) -> str:
        return SUPPRESSED_MEASURE if value is None or n < SMALL_CELL else f"{value:.1f}"

    def rate(num: int, den: int) -> str:
        return f"{num / den:.4f}" if rate_allowed(num, den) else SUPPRESSED_MEASURE

    by_kind = stats.sla_breached_by_kind
    return [
        ("situations", cell(stats.situations)),
        ("mobilization_situations", cell(n)),
        ("mobilization_median_hours", hours(stats.mobilization_median)),
        ("mobilization_p90_hours", hours(stats.mobilization_p90)),
        ("aer_confirmed", cell(stats.aer_confirmed)),
        ("sla_breached_situations", cell(stats.sla_breached)),
        ("sla_breached_first_contact", cell(by_kind.get("first_contact", 0))),
        ("sla_breached_lead_acceptance", cell(by_kind.get("lead_acceptance", 0))),
        ("sla_breach_rate", rate(stats.sla_breached, stats.aer_confirmed)),
        ("assignments", cell(stats.assignments)),
        ("assignments_answered", cell(stats.assignments_answered)),
        ("assignments_accepted", cell(stats.assignments_accepted)),
        ("assignment_acceptance_rate", rate(stats.assignments_accepted, stats.assignments_answered)),
    ]


MEASURE_DEFINITIONS = {
    "situations": "Situations seen in the range.",
    "mobilization_situations": "Situations with both an AER confirmation and a first contact.",
    "mobilization_median_hours": "Median hours from AER confirmed to first contact.",
    "mobilization_p90_hours": "Nearest-rank 90th percentile of those hours.",
    "aer_confirmed": "Situations whose AER was confirmed at Filter 2.",
    "sla_breached_situations": "AER-confirmed situations with at least one SLA breach.",
    "sla_breached_first_contact": "Situations with a breach of the 48 h first-contact window.",
    "sla_breached_lead_acceptance": "Situations whose lead acceptance was overdue.",
    "sla_breach_rate": "sla_breached_situations / aer_confirmed.",
    "assignments": "Agency assignments (lead or assisting) made.",
    "assignments_answered": "Assignments that left 'requested'.",
    "assignments_accepted": "Answered assignments whose first answer was 'accepted'.",
    "assignment_acceptance_rate": "assignments_accepted / assignments_answered.",
}


def timeline_dataset(timelines: Iterable[Timeline]) -> Dataset:
    """Every timeline entry, by situation then position."""
    rows: list[tuple[Value, ...]] = []
    for tl in sorted(timelines, key=lambda t: t.situation_id):
        for seq, entry in enumerate(tl.entries, start=1):
            at = entry.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            rows.append((str(tl.situation_id), seq, at, entry.event, entry.detail))
    return Dataset("timeline", "Every situation's events in order.", TIMELINE_COLUMNS, tuple(rows))


def write(out: Path, datasets: Sequence[Dataset]) -> list[Path]:
    """Write each dataset as CSV and Parquet, and the data dictionary; returns the files."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for ds in datasets:
        written.append(_write_bytes(out / f"{ds.stem}.csv", _csv(ds)))
        written.append(out / f"{ds.stem}.parquet")
        _parquet(ds, written[-1])
    written.extend(write_dictionary(out, datasets))
    return written


def write_dictionary(out: Path, datasets: Sequence[Dataset]) -> list[Path]:
    """``data_dictionary.csv`` and ``data_dictionary.md`` for ``datasets``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("file", "column", "type", "description"))
    md = ["# Data dictionary", "",
          f"Counts under {SMALL_CELL} are shown as `<{SMALL_CELL}`; rates, medians and "
          f"percentiles resting on fewer than {SMALL_CELL} read `{SUPPRESSED_MEASURE}`. "
          "List columns are `;`-separated in CSV and lists in Parquet; an empty CSV cell in a "
          "redacted row is a null (redacted) value.", ""]
    for ds in datasets:
        md += [f"## {ds.stem} (`{ds.stem}.csv`, `{ds.stem}.parquet`)", "", ds.description, "",
               "| column | type | description |", "|---|---|---|"]
        for col in ds.columns:
            writer.writerow((ds.stem, col.name, str(col.type), col.description))
            md.append(f"| {col.name} | {col.type} | {col.description} |")
        md.append("")
        if ds.stem == "measures":
            md += ["| measure | definition |", "|---|---|"]
            for name, text in MEASURE_DEFINITIONS.items():
                writer.writerow(("measures", name, "measure", text))
                md.append(f"| {name} | {text} |")
            md.append("")
        if ds.stem == "event_requests":
            md += ["| table | definition |", "|---|---|"]
            for name, text in EVENT_REQUEST_TABLES.items():
                writer.writerow(("event_requests", name, "table", text))
                md.append(f"| {name} | {text} |")
            md.append("")
    return [_write_bytes(out / "data_dictionary.csv", buf.getvalue().encode()),
            _write_bytes(out / "data_dictionary.md", "\n".join(md).encode())]


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Stable JSON (sorted keys, two-space indent, final newline)."""
    return _write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def _csv(ds: Dataset) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(c.name for c in ds.columns)
    for row in ds.rows:
        writer.writerow(_csv_value(v) for v in row)
    return buf.getvalue().encode()


def _csv_value(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ";".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _parquet(ds: Dataset, path: Path) -> None:
    schema = pa.schema([pa.field(c.name, c.type) for c in ds.columns])
    arrays = [pa.array([_arrow_value(r[i]) for r in ds.rows], type=c.type)
              for i, c in enumerate(ds.columns)]
    table = pa.Table.from_arrays(arrays, schema=schema)
    pq.write_table(table, path, compression="zstd", compression_level=3, use_dictionary=False,
                   write_statistics=True, store_schema=False, version="2.6")


def _arrow_value(value: Value) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
