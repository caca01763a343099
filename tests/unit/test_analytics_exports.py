"""Exports, report and suppression on the fixed stream (no Kafka): exact, suppressed, deterministic."""

from __future__ import annotations

import base64
import csv
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pyarrow.parquet as pq
import pytest

from directory.model import AgencyType
from schemas.envelope import from_record
from schemas.reference import reference
from services.analytics import exports, release, report, workbook
from services.analytics.privacy import Mark, Method, cell, rate_allowed
from services.analytics.projections import FACTS, TIMELINE, Keyed
from services.analytics.projections.facts import SituationFacts
from services.analytics.projections.provincial import rows
from services.analytics.projections.statistics import Statistics, summarize
from services.analytics.projections.timeline import Timeline
from tests.support.analytics_samples import (
    AGENCY_TYPES,
    GENERATED,
    MEASURES_CSV,
    ROW_1,
    ROW_2,
    STATISTICS_ROWS,
    fixed_stream,
)

pytestmark = pytest.mark.unit


def _facts() -> list[SituationFacts]:
    keyed: Keyed[SituationFacts] = Keyed(FACTS.fold)
    for r in fixed_stream():
        keyed.apply(from_record(r.record.headers, r.record.value, topic=r.record.topic))
    return list(keyed.states())


def _stats() -> Statistics:
    return summarize(_facts(), AGENCY_TYPES)


def _release() -> release.Release:
    return release.build(_stats())


def _write_all(out: Path) -> None:
    keyed: Keyed[Timeline] = Keyed(TIMELINE.fold)
    for r in fixed_stream():
        keyed.apply(from_record(r.record.headers, r.record.value, topic=r.record.topic))
    rel = _release()
    exports.write(out, [*exports.statistics_datasets(rel),
                        exports.provincial_dataset(rows(_facts(), AGENCY_TYPES)),
                        exports.timeline_dataset(keyed.states())])
    workbook.write_workbook(out / "statistics.xlsx", rel, period=report.period(rel))
    report.write_report(out / "report.html", rel, title=report.title_of(rel, GENERATED),
                        context=[("from", "beginning")])


def test_statistics_and_measures_csv_equal_hand_computed(tmp_path: Path) -> None:
    _write_all(tmp_path)
    text = (tmp_path / "statistics.csv").read_text()
    assert text.startswith("table,key,key_2,label,label_2,count,suppression\n" + STATISTICS_ROWS)
    assert (tmp_path / "measures.csv").read_text() == MEASURES_CSV


def test_counts_are_integers_in_parquet_and_suppressed_ones_null_with_their_reason(
        tmp_path: Path) -> None:
    _write_all(tmp_path)
    table = pq.read_table(tmp_path / "statistics.parquet")
    assert str(table.schema.field("count").type) == "int64"
    got = table.to_pylist()
    assert got[0] == {"table": "district", "key": "district_1", "key_2": "",
                      "label": "1 District", "label_2": "", "count": 6, "suppression": ""}
    assert got[1]["count"] is None
    assert got[1]["suppression"] == "small_cell"
    measures = pq.read_table(tmp_path / "measures.parquet").to_pylist()
    assert measures[0]["count"] == 10
    assert {m["measure"]: m["value"] for m in measures}["mobilization_median_hours"] == 36.0


def test_provincial_rows_are_restricted_month_level_microdata(tmp_path: Path) -> None:
    _write_all(tmp_path)
    assert not (tmp_path / "provincial_rows.csv").exists()
    lines = (tmp_path / "provincial_rows_restricted.csv").read_text().splitlines()
    assert len(lines) == 9
    assert lines[1] == ROW_1
    assert lines[2] == ROW_2
    assert not re.search(r"\d{4}-\d{2}-\d{2}", "\n".join(lines))  # no day anywhere
    path = tmp_path / "provincial_rows_restricted.parquet"
    assert pq.read_metadata(path).metadata[b"commande.use"].startswith(b"RESTRICTED USE")
    table = pq.read_table(path).to_pylist()
    assert [r["row_number"] for r in table] == list(range(1, 9))
    assert table[1]["redacted"] is True
    assert table[1]["risk_factors"] is None
    assert table[1]["age_groups"] is None
    assert table[0]["risk_factors"] == ["basic_needs.food_insecurity", "mental_health.household"]
    assert table[0]["protective_factors"] == []
    assert "RESTRICTED USE" in (tmp_path / "data_dictionary.md").read_text()


def test_the_timeline_is_restricted_without_ids_or_times(tmp_path: Path) -> None:
    _write_all(tmp_path)
    text = (tmp_path / "timeline_restricted.csv").read_text()
    lines = text.splitlines()
    assert lines[0] == "situation,seq,month,event,detail"
    assert len(lines) == 69
    ids = {str(f.situation_id) for f in _facts()}
    assert not any(i in text or i.replace("-", "") in text for i in ids)
    assert not re.search(r"\d{4}-\d{2}-\d{2}|T\d{2}:", text)
    assert {line.split(",")[0] for line in lines[1:]} == {str(n) for n in range(1, 11)}
    meta = pq.read_metadata(tmp_path / "timeline_restricted.parquet").metadata
    assert meta[b"commande.use"].startswith(b"RESTRICTED USE")


def test_every_count_in_every_export_is_protected(tmp_path: Path) -> None:
    _write_all(tmp_path)
    rel = _release()
    with (tmp_path / "statistics.csv").open() as fh:
        got = list(csv.DictReader(fh))
    assert {r["suppression"] for r in got} == {"", "small_cell", "complementary"}
    for r in got:
        assert (r["count"] == "") == (r["suppression"] != ""), r
        assert r["count"] == "" or int(r["count"]) >= 5, r
    by_key = {r.key: r for t in rel.tables for r in t.rows}
    for key, row in by_key.items():  # the mark says the truth about the hidden count
        mark = rel.protected.mark(key)
        assert (mark is Mark.SMALL) == (rel.counts[key] < 5), (key, row)
    html = (tmp_path / "report.html").read_text()
    numbers = re.findall(r'<td class="count">([^<]*)</td>', html)
    assert "&lt;5" in numbers
    assert "x" in numbers
    assert all(n in ("&lt;5", "x") or int(n) >= 5 for n in numbers), numbers


def test_charts_draw_no_count_under_five_and_say_what_is_hidden() -> None:
    charts = report.chart_data(_release())
    values = [(v, text) for series in charts.values() for points in series.values()
              for _, v, text in points]
    assert all(v is None or v >= 5 for v, _ in values)
    assert {text for v, text in values if v is None} == {"<5", "x"}
    assert charts["district"]["Situations by district"] == [
        ("1 District", 6, "6"), ("2 District", None, "<5"), ("3 District", None, "<5")]
    assert charts["month_district"]["1 District"] == [("Jan 2026", None, "x"),
                                                      ("Feb 2026", None, "<5")]
    risk = charts["risk_category"]["Risk categories"]
    assert ("Mental health", 9, "9") in risk
    assert [label for label, _, _ in risk] == [c.name for c in reference().risk_categories]


def test_report_title_names_the_period_and_generation_time_and_headings_are_words(
        tmp_path: Path) -> None:
    _write_all(tmp_path)
    html = (tmp_path / "report.html").read_text()
    title = ("COMMANDE Tables: situations and community event requests, January 2026 to "
             "February 2026 (generated 2026-12-02 01:00 UTC)")
    assert f"<title>{title}</title>" in html
    assert f"<h1>{title}</h1>" in html
    headings = re.findall(r"<h2>([^<]*)</h2>", html)
    assert headings[:4] == ["Key figures", "Situations by district", "Situations by month",
                            "Situations by month and district"]
    assert not any("_" in h for h in headings), headings
    for words in ("Filter 2 outcomes", "Originating sector", "Lead sector", "Assisting sectors",
                  "Persons concerned by gender", "Number of risk factors per situation",
                  "Protective factors", "Study flags", "Services mobilized",
                  "SLA breaches by district", "Conclusions"):
        assert words in headings, words
    assert "<td>Median service mobilization time (AER confirmed to first contact)</td>" \
           '<td class="measure">36.0 hours</td>' in html
    assert "district_1" not in html


def test_report_embeds_png_charts_without_metadata(tmp_path: Path) -> None:
    _write_all(tmp_path)
    html = (tmp_path / "report.html").read_text()
    images = re.findall(r'<img alt="[^"]+" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', html)
    assert len(images) == len([t for t in _release().tables if t.rows])
    for data in images:
        png = base64.b64decode(data)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert b"tEXt" not in png
        assert b"tIME" not in png


def _xml(data: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(data)  # noqa: S314 - the workbook this test just wrote


def _sheets(path: Path) -> dict[str, list[list[tuple[str | None, str]]]]:
    """Each sheet's written rows (empty ones skipped) as (cell type, text): type None is a
    number, 's' a shared string."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    with zipfile.ZipFile(path) as z:
        strings = [si.findtext("m:t", namespaces=ns) or "" for si in
                   _xml(z.read("xl/sharedStrings.xml")).findall("m:si", ns)]
        book = _xml(z.read("xl/workbook.xml"))
        links = _xml(z.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target") for r in links}
        out = {}
        for sheet in book.find("m:sheets", ns) or []:
            xml = _xml(z.read("xl/" + str(targets[sheet.get(rel_ns)])))
            rows = []
            for row in xml.iter(f"{{{ns['m']}}}row"):
                cells = []
                for c in row.findall("m:c", ns):
                    v = c.findtext("m:v", namespaces=ns) or ""
                    cells.append((c.get("t"), strings[int(v)] if c.get("t") == "s" else v))
                rows.append(cells)
            out[str(sheet.get("name"))] = rows
    return out


def test_the_workbook_has_a_sheet_per_table_with_numbers_as_numbers(tmp_path: Path) -> None:
    _write_all(tmp_path)
    sheets = _sheets(tmp_path / "statistics.xlsx")
    rel = _release()
    assert list(sheets) == ["Read me", "Key figures", *(workbook.sheet_name(t) for t in rel.tables)]
    district = sheets["district"]
    assert district[0] == [("s", "Situations by district")]
    assert district[2] == [("s", "District"), ("s", "Count")]
    assert district[3:] == [[("s", "1 District"), (None, "6")], [("s", "2 District"), ("s", "<5")],
                            [("s", "3 District"), ("s", "<5")], [("s", "Total"), (None, "10")]]
    grid = sheets["month_district"]
    assert grid[2] == [("s", "Month"), ("s", "1 District"), ("s", "2 District"),
                       ("s", "3 District"), ("s", "Total")]
    assert grid[3] == [("s", "January 2026"), ("s", "x"), ("s", "<5"), ("s", "<5"), ("s", "x")]
    assert grid[5] == [("s", "Total"), (None, "6"), ("s", "<5"), ("s", "<5"), (None, "10")]
    key = {row[0][1]: row[1] for row in sheets["Key figures"][1:]}
    assert key["Situations"] == (None, "10")
    assert key["Median service mobilization time (AER confirmed to first contact)"] == (None, "36")
    assert key["Share of AER situations with an SLA breach"] == ("s", "suppressed")


def test_exports_are_byte_identical_across_runs(tmp_path: Path) -> None:
    _write_all(tmp_path / "a")
    _write_all(tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert len(names) == 12  # 4 datasets x (CSV, Parquet), 2 dictionaries, workbook, report
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_data_dictionary_lists_every_column(tmp_path: Path) -> None:
    _write_all(tmp_path)
    with (tmp_path / "data_dictionary.csv").open() as fh:
        entries = {(r["file"], r["column"]) for r in csv.DictReader(fh)}
    for stem in ("statistics", "measures", "provincial_rows_restricted", "timeline_restricted"):
        header = (tmp_path / f"{stem}.csv").read_text().splitlines()[0].split(",")
        assert {(stem, c) for c in header} <= entries
    assert ("measures", "sla_breach_rate") in entries
    assert ("statistics", "month_district") in entries
    text = (tmp_path / "data_dictionary.md").read_text()
    assert "| redacted | bool |" in text
    assert "| count | int64 |" in text
    assert "complementary" in text


def test_rounding_to_base_five_is_the_analysts_choice() -> None:
    rel = release.build(_stats(), method=Method.ROUND5)
    p = rel.protected
    assert p.method is Method.ROUND5
    assert p.text(("situations",)) == "10"
    assert p.text(("district", "district_2")) == "5"  # 3
    assert p.text(("district", "district_3")) == "0"  # 1
    assert all(v % 5 == 0 for v in p.values.values())
    page = report.render(rel, title="t", context=[])
    assert "rounded to base 5" in page


def test_suppression_rules() -> None:
    assert [cell(n) for n in (0, 4, 5, 12)] == ["<5", "<5", "5", "12"]
    assert rate_allowed(5, 10)
    assert not rate_allowed(4, 10)
    assert not rate_allowed(8, 10)  # the complement, 2, would be disclosed
    assert not rate_allowed(4, 4)


def test_months_fill_the_gaps_of_a_period_but_not_across_centuries() -> None:
    assert release.months_between(["2026-03", "2026-01"]) == ("2026-01", "2026-02", "2026-03")
    assert release.months_between(["2026-12", "unknown", "2026-11", "2027-01"]) == (
        "2026-11", "2026-12", "2027-01", "unknown")
    # stray data (a test's far year) lists the months seen, not 22,000 empty ones
    assert release.months_between(["2026-01", "3833-03"]) == ("2026-01", "3833-03")


def test_sector_tables_list_every_agency_type_of_the_directory_by_name() -> None:
    rel = _release()
    for name in ("originating_sector", "lead_sector", "assisting_sector"):
        rows = rel.table(name).rows
        codes = [r.codes[0] for r in rows]
        assert codes[:len(AgencyType)] == [a.value for a in AgencyType], name
        assert all("_" not in r.labels[0] for r in rows), name
    assert rel.table("lead_sector").rows[-1].labels == ("No lead named",)
    police = rel.table("originating_sector").rows[0]
    assert rel.protected.text(police.key) == "5"  # the CMBs referred S1, S4, S7, S9 and S10
