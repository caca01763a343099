"""Exports: CSV and Parquet with a data dictionary, for each projection. Deterministic.

The same input gives byte-identical files: rows are sorted, CSV uses ``\\n`` line ends, Parquet is
written with fixed options and no timestamps, and nothing records when it ran. Counts come from
one protected :class:`~services.analytics.release.Release` (:mod:`.privacy`: primary and
complementary suppression, or rounding to base 5): a count is an integer, ``null`` (an empty CSV
cell) when suppressed, with the reason in the ``suppression`` column (``small_cell``: under 5,
shown ``<5`` in the report; ``complementary``: 5 or more, hidden so that a small one cannot be
worked out, shown ``x``). Per-situation files (``provincial_rows_restricted``,
``timeline_restricted``) are microdata for restricted use: month-level dates, no situation ids.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa  # no stubs; not in pyproject overrides
import pyarrow.parquet as pq

from services.analytics.privacy import (
    COMPLEMENTARY,
    ROUNDING_BASE,
    SMALL_CELL,
    SUPPRESSED,
    SUPPRESSED_MEASURE,
    Method,
)
from services.analytics.projections import event_requests
from services.analytics.projections.provincial import ProvincialRow
from services.analytics.projections.statistics import TABLES
from services.analytics.projections.timeline import Timeline
from services.analytics.release import Release, Table

Value = str | int | float | bool | date | tuple[str, ...] | None

RESTRICTED = ("RESTRICTED USE: per-situation microdata (month-level dates, no situation ids); "
              "for analysts under the information sharing agreement only, never published.")
"""The first line of a restricted file's description, and its Parquet ``commande.use``."""


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
    restricted: bool = False
    definitions: tuple[tuple[str, str], ...] = field(default=())
    """Extra lines of the data dictionary: (name, definition) of its tables or measures."""


LIST = pa.list_(pa.string())
_S, _I, _F, _B = pa.string(), pa.int64(), pa.float64(), pa.bool_()
MONTH = "Halton local month, YYYY-MM"

PROVINCIAL_COLUMNS = (
    Column("row_number", _I, "Row number after sorting on the other columns; not a situation id "
           "and not in time order."),
    Column("district", _S, "HRPS district code (district_1, district_2, district_3)."),
    Column("table", _S, "The district's COMMANDE Table."),
    Column("situation_type", _S, "individual, family, group or location."),
    Column("priority", _S, "routine or urgent."),
    Column("opened_month", _S, f"Month the situation was opened ({MONTH})."),
    Column("decision_month", _S, f"Month of the Filter 2 decision ({MONTH})."),
    Column("closed_month", _S, f"Month it was concluded, or rejected/returned when not concluded "
           f"({MONTH})."),
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

COUNT_NOTE = (f"Integer; null (empty in CSV) when suppressed: see suppression. Under rounding, "
              f"the count rounded to base {ROUNDING_BASE}.")
SUPPRESSION_NOTE = ("Empty when the count is shown; small_cell: under 5 (shown '<5'); "
                    "complementary: 5 or more, hidden so that no small count can be worked out "
                    "from totals or other cells (shown 'x').")


def _count_columns(tables: str) -> tuple[Column, ...]:
    return (
        Column("table", _S, f"Count table: {tables}."),
        Column("key", _S, "The code counted (district, month YYYY-MM, decision, ...); 'total' "
               "for the table's total; for a two-way table (month_district, outcome_district), "
               "the first code."),
        Column("key_2", _S, "For a two-way table, the second code (the district); else empty."),
        Column("label", _S, "The name of key (reference data), as the report shows it."),
        Column("label_2", _S, "The name of key_2; else empty."),
        Column("count", _I, COUNT_NOTE),
        Column("suppression", _S, SUPPRESSION_NOTE),
    )


STATISTICS_COLUMNS = _count_columns(", ".join(name for name, _ in TABLES))
EVENT_REQUEST_COLUMNS = _count_columns(
    "total, " + ", ".join(n for n, _ in event_requests.TABLES) + " (definitions below)")

MEASURE_COLUMNS = (
    Column("measure", _S, "What is measured (see the measure list below)."),
    Column("label", _S, "The measure in words, as the report shows it."),
    Column("unit", _S, "count, hours, days or percent."),
    Column("count", _I, "For a count: " + COUNT_NOTE),
    Column("value", _F, f"For hours, days or percent (1 decimal): null when it rests on fewer "
           f"than {SMALL_CELL} or on a suppressed count."),
    Column("suppression", _S, SUPPRESSION_NOTE + f" For hours, days or percent: "
           f"'{SUPPRESSED_MEASURE}'."),
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
    Column("situation", _I, "A number per situation, 1..N after sorting the situations by "
           "their entries: not a situation id, not in time order, different in another replay."),
    Column("seq", _I, "Position of the event in the situation's stream, from 1."),
    Column("month", _S, f"Month of the event's own time ({MONTH})."),
    Column("event", _S, "Event name (opened, aer_decision_recorded, ...)."),
    Column("detail", _S, "De-identified codes: decision, conclusion, agencies, SLA kind."),
)


def _month(day: date | None) -> str | None:
    return None if day is None else f"{day:%Y-%m}"


def provincial_dataset(rows: Sequence[ProvincialRow]) -> Dataset:
    """The provincial-database-style rows, for restricted use: dates to the month, rows
    renumbered after sorting on what is exported (so the order says nothing of the day)."""
    names = [c.name for c in PROVINCIAL_COLUMNS[1:]]
    built = []
    for r in rows:
        values = {n: getattr(r, n, None) for n in names}
        values["opened_month"] = _month(r.opened_date)
        values["decision_month"] = _month(r.decision_date)
        values["closed_month"] = _month(r.closed_date)
        built.append(tuple(values[n] for n in names))
    built.sort(key=lambda row: tuple(_csv_value(v) for v in row))
    return Dataset("provincial_rows_restricted", RESTRICTED + " One de-identified row per "
                   "closed situation.", PROVINCIAL_COLUMNS,
                   tuple((n, *row) for n, row in enumerate(built, start=1)), restricted=True)


def _count_rows(rel: Release, tables: Iterable[Table], prefix: str = "") -> list[tuple[Value, ...]]:
    p = rel.protected
    out: list[tuple[Value, ...]] = []
    for t in tables:
        name = t.name.removeprefix(prefix)
        for r in t.rows:
            mark = p.mark(r.key)
            out.append((name, r.codes[0], r.codes[1] if len(r.codes) > 1 else "", r.labels[0],
                        r.labels[1] if len(r.labels) > 1 else "", p.shown(r.key),
                        mark.value if mark else ""))
        if t.total is not None:
            mark = p.mark(t.total)
            out.append((name, "total", "", "Total", "", p.shown(t.total),
                        mark.value if mark else ""))
    return out


def _method_note(rel: Release) -> str:
    if rel.protected.method is Method.ROUND5:
        return f" Counts rounded to base {ROUNDING_BASE}."
    return ""


def statistics_datasets(rel: Release) -> tuple[Dataset, Dataset]:
    """The count tables and the measures of a protected release."""
    situations = [t for t in rel.tables if t.section == "situations"]
    p = rel.protected
    measures: list[tuple[Value, ...]] = []
    for m in rel.measures:
        if m.unit == "count":
            assert m.key is not None
            mark = p.mark(m.key)
            measures.append((m.name, m.label, m.unit, p.shown(m.key), None,
                             mark.value if mark else ""))
        else:
            measures.append((m.name, m.label, m.unit, None, m.value,
                             SUPPRESSED_MEASURE if m.value is None else ""))
    return (
        Dataset("statistics", "Counts by dimension, protected (small cells and the cells that "
                "would give them away suppressed)." + _method_note(rel), STATISTICS_COLUMNS,
                tuple(_count_rows(rel, situations)),
                definitions=tuple((t.name, f"{t.title}: {t.note}") for t in situations)),
        Dataset("measures", "Counts, times and rates of the period." + _method_note(rel),
                MEASURE_COLUMNS, tuple(measures),
                definitions=tuple((m.name, MEASURE_DEFINITIONS.get(m.name, m.label))
                                  for m in rel.measures)),
    )


def event_request_dataset(rel: Release) -> Dataset:
    """The community event request counts, protected, from the de-identified stream only."""
    tables = [t for t in rel.tables if t.section == "event_requests"]
    p = rel.protected
    total = ("requests.total",)
    mark = p.mark(total)
    rows: list[tuple[Value, ...]] = [("total", "requests", "", "Requests", "", p.shown(total),
                                      mark.value if mark else "")]
    rows += _count_rows(rel, tables, prefix="requests.")
    return Dataset("event_requests", "Community event requests by answer, district, kind, "
                   "month, topic and outcome; protected like the statistics." + _method_note(rel),
                   EVENT_REQUEST_COLUMNS, tuple(rows),
                   definitions=tuple(EVENT_REQUEST_TABLES.items()))


MEASURE_DEFINITIONS = {
    "situations": "Situations seen in the range.",
    "persons": "Persons concerned in situations not rejected as not AER.",
    "aer_confirmed": "Situations whose AER was confirmed at Filter 2 (the first confirmation).",
    "closed": "Situations concluded, rejected or returned.",
    "decision_median_hours": "Median hours from opening to the (current) Filter 2 decision; "
                             "suppressed on fewer than 5 situations.",
    "mobilization_situations": "Situations with both an AER confirmation and a first contact.",
    "mobilization_median_hours": "Median hours from AER confirmed to first contact.",
    "mobilization_p90_hours": "Nearest-rank 90th percentile of those hours.",
    "contacted": "Situations with a first contact.",
    "contact_median_hours": "Median hours from opening to the first contact.",
    "concluded": "Situations with a SituationConcluded.",
    "conclusion_median_days": "Median days from opening to the conclusion.",
    "sla_warned_situations": "AER-confirmed situations with at least one SLA warning.",
    "sla_breached_situations": "AER-confirmed situations with at least one SLA breach.",
    "sla_breached_first_contact": "Situations with a breach of the 48 h first-contact window.",
    "sla_breached_lead_acceptance": "Situations whose lead acceptance was overdue.",
    "sla_breach_rate": "sla_breached_situations / aer_confirmed, percent; suppressed when the "
                       "numerator, the base or their difference is suppressed.",
    "assignments": "Agency assignments (lead or assisting) made.",
    "assignments_answered": "Assignments that left 'requested'.",
    "assignments_accepted": "Answered assignments whose first answer was 'accepted'.",
    "assignment_acceptance_rate": "assignments_accepted / assignments_answered, percent; "
                                  "suppressed like the SLA breach rate.",
}


def timeline_dataset(timelines: Iterable[Timeline]) -> Dataset:
    """Every timeline entry, for restricted use: situations numbered after sorting on what is
    exported (no id, no order of opening), times to the month."""
    entries = sorted(
        tuple((f"{e.at:%Y-%m}", e.event, e.detail) for e in tl.entries) for tl in timelines)
    rows: list[tuple[Value, ...]] = []
    for number, situation in enumerate(entries, start=1):
        for seq, (month, event, detail) in enumerate(situation, start=1):
            rows.append((number, seq, month, event, detail))
    return Dataset("timeline_restricted", RESTRICTED + " Every situation's events in order.",
                   TIMELINE_COLUMNS, tuple(rows), restricted=True)


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
          "**Protection.** Counts are integers. A count under 5 is suppressed (`small_cell`; "
          f"the report and the workbook show `{SUPPRESSED}`); so is, complementarily, the "
          "smallest other count of any row, column or table whose total would otherwise give it "
          "away (`complementary`; shown `" + COMPLEMENTARY + "`), across every table that shares "
          "a total, until no suppressed count can be worked out from what is published. A "
          "suppressed count is null in Parquet and empty in CSV, with the reason in the "
          "`suppression` column. Rates, medians and percentiles resting on fewer than "
          f"{SMALL_CELL} or on a suppressed count read `{SUPPRESSED_MEASURE}` (null). With "
          f"`--protection round5`, every count is rounded to base {ROUNDING_BASE} instead "
          "(0-2 down, 3-4 up, totals rounded on their own, so a table need not add up), and a "
          "count that could still be worked out is suppressed (`complementary`).", "",
          "**Restricted use.** Files whose name ends in `_restricted` are per-situation "
          "microdata: dates to the month, no situation ids. They are for analysts under the "
          "information sharing agreement, never for publication; their Parquet files carry "
          "`commande.use` in their metadata.", "",
          "List columns are `;`-separated in CSV and lists in Parquet; an empty CSV cell in a "
          "redacted row is a null (redacted) value.", ""]
    for ds in datasets:
        md += [f"## {ds.stem} (`{ds.stem}.csv`, `{ds.stem}.parquet`)", "", ds.description, "",
               "| column | type | description |", "|---|---|---|"]
        for col in ds.columns:
            writer.writerow((ds.stem, col.name, str(col.type), col.description))
            md.append(f"| {col.name} | {col.type} | {col.description} |")
        md.append("")
        if ds.definitions:
            kind = "measure" if ds.stem == "measures" else "table"
            md += [f"| {kind} | definition |", "|---|---|"]
            for name, text in ds.definitions:
                writer.writerow((ds.stem, name, kind, text))
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
    with pq.ParquetWriter(path, schema, compression="zstd", compression_level=3,
                          use_dictionary=False, write_statistics=True, store_schema=False,
                          version="2.6") as writer:
        writer.write_table(table)
        if ds.restricted:
            writer.add_key_value_metadata({"commande.use": RESTRICTED})


def _arrow_value(value: Value) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
