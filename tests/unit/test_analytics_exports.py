"""Exports, report and suppression on the fixed stream (no Kafka): exact, suppressed, deterministic."""

from __future__ import annotations

import base64
import csv
import re
from pathlib import Path

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from schemas.envelope import from_record
from services.analytics import exports, report
from services.analytics.privacy import cell, rate_allowed
from services.analytics.projections import FACTS, TIMELINE, Keyed
from services.analytics.projections.facts import SituationFacts
from services.analytics.projections.provincial import rows
from services.analytics.projections.statistics import Statistics, summarize
from services.analytics.projections.timeline import Timeline
from services.analytics.samples import AGENCY_TYPES, fixed_stream

pytestmark = pytest.mark.unit

STATISTICS_CSV = """\
table,key,key_2,count
district,district_1,,6
district,district_2,,<5
district,district_3,,<5
month,2026-01,,7
month,2026-02,,<5
month_district,2026-01,district_1,6
month_district,2026-01,district_3,<5
month_district,2026-02,district_2,<5
decision,confirmed,,7
decision,pending,,<5
decision,rejected,,<5
decision,returned,,<5
conclusion,rejected_not_aer,,<5
conclusion,returned_to_originator,,<5
conclusion,risk_lowered_connected_to_services,,<5
conclusion,risk_lowered_informed_of_services,,<5
conclusion,risk_lowered_other,,<5
conclusion,still_aer_refused_services,,<5
risk_category,alcohol,,<5
risk_category,antisocial_behaviour,,<5
risk_category,basic_needs,,<5
risk_category,drugs,,<5
risk_category,elder_abuse,,<5
risk_category,housing,,<5
risk_category,mental_health,,9
age_group,age_18_24,,<5
age_group,age_25_29,,5
age_group,age_30_39,,<5
age_group,age_40_59,,<5
age_group,age_60_plus,,<5
age_group,age_6_11,,<5
"""

# 3 breaches of 7 and 8 accepted of 10 rest on small counts (3; the complement 2): suppressed.
MEASURES_CSV = """\
measure,value
situations,10
mobilization_situations,6
mobilization_median_hours,36.0
mobilization_p90_hours,60.0
aer_confirmed,7
sla_breached_situations,<5
sla_breached_first_contact,<5
sla_breached_lead_acceptance,<5
sla_breach_rate,suppressed
assignments,11
assignments_answered,10
assignments_accepted,8
assignment_acceptance_rate,suppressed
"""

ROW_1 = ("1,district_1,1 District,individual,routine,2026-01-05,2026-01-13,2026-02-10,confirmed,"
         "police_cmb,mental_health,housing,age_25_29,woman,"
         "housing.eviction_risk;mental_health.crisis_calls,housing;mental_health,family_support,,"
         "housing;mental_health,12.0,risk_lowered_connected_to_services,risk_lowered,false")
ROW_5 = ("5,district_1,1 District,individual,routine,2026-01-09,2026-01-13,2026-01-13,rejected,"
         "child_youth_mental_health,,,,,,,,,,,rejected_not_aer,rejected,true")


def _facts() -> list[SituationFacts]:
    keyed: Keyed[SituationFacts] = Keyed(FACTS.fold)
    for r in fixed_stream():
        keyed.apply(from_record(r.record.headers, r.record.value, topic=r.record.topic))
    return list(keyed.states())


def _stats() -> Statistics:
    return summarize(_facts())


def _write_all(out: Path) -> None:
    keyed: Keyed[Timeline] = Keyed(TIMELINE.fold)
    for r in fixed_stream():
        keyed.apply(from_record(r.record.headers, r.record.value, topic=r.record.topic))
    stats = _stats()
    exports.write(out, [*exports.statistics_datasets(stats),
                        exports.provincial_dataset(rows(_facts(), AGENCY_TYPES)),
                        exports.timeline_dataset(keyed.states())])
    report.write_report(out / "report.html", stats, title="t", context=[("from", "beginning")])


def test_statistics_and_measures_csv_equal_hand_computed(tmp_path: Path) -> None:
    _write_all(tmp_path)
    assert (tmp_path / "statistics.csv").read_text() == STATISTICS_CSV
    assert (tmp_path / "measures.csv").read_text() == MEASURES_CSV


def test_provincial_csv_and_parquet(tmp_path: Path) -> None:
    _write_all(tmp_path)
    lines = (tmp_path / "provincial_rows.csv").read_text().splitlines()
    assert len(lines) == 9
    assert lines[1] == ROW_1
    assert lines[5] == ROW_5
    table = pq.read_table(tmp_path / "provincial_rows.parquet").to_pylist()
    assert [r["row_number"] for r in table] == list(range(1, 9))
    assert table[4]["redacted"] is True
    assert table[4]["risk_factors"] is None
    assert table[4]["age_groups"] is None
    assert table[0]["risk_factors"] == ["housing.eviction_risk", "mental_health.crisis_calls"]
    assert table[0]["study_flags"] == []


def test_every_count_in_every_export_is_suppressed_under_five(tmp_path: Path) -> None:
    _write_all(tmp_path)
    with (tmp_path / "statistics.csv").open() as fh:
        counts = [row["count"] for row in csv.DictReader(fh)]
    with (tmp_path / "measures.csv").open() as fh:
        counts += [row["value"] for row in csv.DictReader(fh)
                   if not row["measure"].endswith(("_hours", "_rate"))]
    assert "<5" in counts
    assert all(c == "<5" or int(c) >= 5 for c in counts), counts
    assert all(c["count"] == "<5" or int(c["count"]) >= 5
               for c in pq.read_table(tmp_path / "statistics.parquet").to_pylist())
    html = (tmp_path / "report.html").read_text()
    numbers = re.findall(r'<td class="count">([^<]*)</td>', html)
    assert len(numbers) == 31 + 9  # every count table row, and the measures that are counts
    assert "&lt;5" in numbers
    assert all(n == "&lt;5" or int(n) >= 5 for n in numbers), numbers


def test_charts_draw_no_count_under_five() -> None:
    charts = report.chart_data(_stats())
    values = [v for series in charts.values() for points in series.values() for _, v in points]
    assert None in values
    assert all(v is None or v >= 5 for v in values)
    by_month = charts["situations_per_month_by_district"]
    assert by_month["district_1"] == [("2026-01", 6), ("2026-02", None)]
    assert charts["risk_categories"]["situations"][-1] == ("mental_health", 9)
    # 6, 12 | 24 | 48, 53, 60: every bin under 5
    assert charts["mobilization_time"]["situations"] == [
        ("0-12 h", None), ("12-24 h", None), ("24-48 h", None), ("48-72 h", None), ("72 h +", None)]


def test_report_embeds_png_charts_without_metadata(tmp_path: Path) -> None:
    _write_all(tmp_path)
    html = (tmp_path / "report.html").read_text()
    images = re.findall(r'<img alt="[^"]+" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', html)
    assert len(images) == 4
    for data in images:
        png = base64.b64decode(data)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert b"tEXt" not in png
        assert b"tIME" not in png


def test_exports_are_byte_identical_across_runs(tmp_path: Path) -> None:
    _write_all(tmp_path / "a")
    _write_all(tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert len(names) == 11  # 4 datasets x (CSV, Parquet), 2 dictionaries, the report
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_data_dictionary_lists_every_column(tmp_path: Path) -> None:
    _write_all(tmp_path)
    with (tmp_path / "data_dictionary.csv").open() as fh:
        entries = {(r["file"], r["column"]) for r in csv.DictReader(fh)}
    for stem in ("statistics", "measures", "provincial_rows", "timeline"):
        header = (tmp_path / f"{stem}.csv").read_text().splitlines()[0].split(",")
        assert {(stem, c) for c in header} <= entries
    assert ("measures", "sla_breach_rate") in entries
    assert "| redacted | bool |" in (tmp_path / "data_dictionary.md").read_text()


def test_suppression_rules() -> None:
    assert [cell(n) for n in (0, 4, 5, 12)] == ["<5", "<5", "5", "12"]
    assert rate_allowed(5, 10)
    assert not rate_allowed(4, 10)
    assert not rate_allowed(8, 10)  # the complement, 2, would be disclosed
    assert not rate_allowed(4, 4)
