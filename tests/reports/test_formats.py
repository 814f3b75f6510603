"""The four formats, read back: the ministry's table, the definition named, Vietnamese
headings by default and English on request, and every figure's drill-down present."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from openpyxl import load_workbook

from controller.reports.builder import ReportBuilder
from controller.reports.document import ReportKind
from controller.reports.formats import Format, Rendered
from controller.reports.service import ReportQuery, make_report

from . import scenario
from .conftest import Installed

VERSION = scenario.DEFINITION.version


def render(installed: Installed, kind: ReportKind, fmt: Format, language: str | None = None,
           unit: str = "tinh-a", detail: bool = True) -> Rendered:
    query = ReportQuery(kind, *scenario.PERIOD, fmt, unit=unit, language=language or "vi",
                        detail=detail)
    return make_report(ReportBuilder(installed.db), query, scenario.DEFINITION,
                       scenario.NOW)[1]


def csv_sections(content: bytes) -> dict[str, list[list[str]]]:
    """Section title -> rows (headings first), from the sectioned CSV."""
    text = content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    sections: dict[str, list[list[str]]] = {}
    index = 0
    while index < len(rows):
        row = rows[index]
        if len(row) == 1 and index + 1 < len(rows) and len(rows[index + 1]) > 1:
            body = []
            index += 1
            while index < len(rows) and rows[index]:
                body.append(rows[index])
                index += 1
            sections[row[0]] = body
        index += 1
    return sections


def test_csv_in_vietnamese(sqlite_installed: Installed) -> None:
    rendered = render(sqlite_installed, ReportKind.INDICATORS, Format.CSV)
    assert rendered.content.startswith("\ufeff".encode())  # Excel reads the diacritics
    assert rendered.media_type.startswith("text/csv")
    sections = csv_sections(rendered.content)
    table = sections["Các chỉ tiêu"]
    assert table[0] == ["STT", "Nội dung chỉ tiêu", "Giá trị"]
    values = {row[0]: row[2] for row in table[1:]}
    assert values["1"] == "50,0% (1/2)" and values["1.1"] == "1" and values["1.2"] == "2"
    assert values["1.3"] == "66,7% (4/6)"
    assert values["2"] == "50,0% (2/4)" and values["2.3"] == "55,6% (5/9)"
    assert table[1][1].startswith("Tỷ lệ xã, phường, thị trấn có hệ thống loa")
    assert VERSION in rendered.content.decode("utf-8-sig")
    # Drill-down: the villages behind 1.3, the agents behind every availability.
    villages = {row[0]: row for row in sections["Danh sách thôn"][1:]}
    assert villages["thon-a1"][5] == "95,6%"
    agents = {row[0]: row for row in sections["Danh sách thiết bị"][1:]}
    assert set(agents) == {"ag-a1", "ag-a2", "ag-a3", "ag-a4", "ag-b1"}
    assert agents["ag-a3"][5] == "72,1%"  # 49 h of 68


def test_csv_in_english_uptime(sqlite_installed: Installed) -> None:
    rendered = render(sqlite_installed, ReportKind.UPTIME, Format.CSV, "en")
    sections = csv_sections(rendered.content)
    outages = sections["Outages"]
    assert outages[0][:3] == ["Agent", "Start", "End"]
    assert ["ag-a1", "2026-10-31 20:00", "2026-11-01 06:00", "10.00", "3.00", "no record",
            "no", "no"] in outages
    missed = sections["Missed airings"]
    assert len(missed) == 1 + 6
    assert "Definition" not in rendered.content.decode()  # the heading is translated text
    assert f"{VERSION} —" in rendered.content.decode("utf-8-sig")


def test_xlsx_keeps_numbers_and_has_detail_sheets(sqlite_installed: Installed,
                                                  tmp_path: Any) -> None:
    rendered = render(sqlite_installed, ReportKind.INDICATORS, Format.XLSX)
    path = tmp_path / rendered.filename
    path.write_bytes(rendered.content)
    book = load_workbook(path, read_only=True)
    names = book.sheetnames
    assert names[0] == "Báo cáo chỉ tiêu 1 và 2"
    assert {"Danh sách thôn", "Danh sách cụm loa", "Danh sách đài", "Thiết bị theo ngày",
            "Các lượt phát theo kế hoạch", "Các khoảng hoạt động", "Xác nhận"} <= set(names)
    cover = [row for row in book[names[0]].iter_rows(values_only=True) if any(row)]
    assert any(VERSION in str(cell) for row in cover for cell in row if cell)
    header = next(i for i, row in enumerate(cover) if row[:3] == ("STT", "Nội dung chỉ tiêu",
                                                                  "Giá trị"))
    lines = {row[0]: row[2] for row in cover[header + 1:header + 11]}
    assert lines["1"] == pytest.approx(0.5) and lines["2"] == pytest.approx(0.5)
    assert lines["1.1"] == 1 and lines["2.2"] == 4
    days = list(book["Thiết bị theo ngày"].iter_rows(values_only=True))
    assert days[0][:3] == ("Thiết bị thu", "Ngày", "Tỷ lệ hoạt động")
    by_day = {(row[0], row[1].date().isoformat()): row[2] for row in days[1:]}
    assert by_day[("ag-a1", "2026-10-31")] == pytest.approx(15.5 / 17)  # 55.8 of 61.2 Mms
    assert by_day[("ag-b1", "2026-10-31")] == 0
    airings = list(book["Các lượt phát theo kế hoạch"].iter_rows(values_only=True))
    assert len(airings) == 1 + 32


def test_xlsx_uptime_in_english(sqlite_installed: Installed, tmp_path: Any) -> None:
    rendered = render(sqlite_installed, ReportKind.UPTIME, Format.XLSX, "en")
    path = tmp_path / "uptime.xlsx"
    path.write_bytes(rendered.content)
    book = load_workbook(path, read_only=True)
    assert book.sheetnames[:5] == ["Uptime report", "Village list", "Agent list", "Outages",
                                   "Missed airings"]
    agents = list(book["Agent list"].iter_rows(values_only=True))
    row = next(r for r in agents if r[0] == "ag-a3")
    heading = agents[0]
    assert row[heading.index("Availability")] == pytest.approx(49 / 68)
    assert row[heading.index("Unanchored (h)")] == pytest.approx(17)
    assert row[heading.index("Items missed")] == 3


def test_json_drills_down_to_records(sqlite_installed: Installed) -> None:
    body = json.loads(render(sqlite_installed, ReportKind.UPTIME, Format.JSON).content)
    assert body["definition"]["version"] == VERSION
    assert body["headings"]["outages"] == "Các lần mất kết nối"
    indicators = {line["code"]: line for line in body["indicators"]}
    assert (indicators["i1"]["numerator"], indicators["i1"]["denominator"]) == (1, 2)
    assert indicators["i1"]["drill"] == "communes"
    commune = next(c for c in body["communes"] if c["key"] == "xa-a")
    assert commune["village_keys"] == ["thon-a1", "thon-a2", "thon-a3"]
    village = next(v for v in body["villages"] if v["key"] == "thon-a3")
    assert village["cluster_keys"] == ["c-a3", "c-a4"]
    agent = next(a for a in body["agents"] if a["agent_id"] == "ag-a3")
    assert agent["by_level"] == {"e0": 7_200_000, "e1": 176_400_000, "e2": 0, "e3": 0}
    missed = [m for m in body["missed"] if m["agent_id"] == "ag-a3"]
    assert [m["outcome"] for m in missed] == ["missed", "no-record", "failed"]
    assert missed[0]["play_journal_id"] and missed[0]["play_seq"] > 0  # the record itself
    outage = next(o for o in body["outages"] if o["cause"] == "unanchored")
    assert outage["start"].startswith("2026-11-01T00:00:00+07:00")
    interval = [i for i in body["intervals"] if i["agent_id"] == "ag-a3" and not i["anchored"]]
    assert len(interval) == 1


def test_english_and_commune_level(sqlite_installed: Installed) -> None:
    body = json.loads(render(sqlite_installed, ReportKind.INDICATORS, Format.JSON, "en",
                             unit="xa-a").content)
    first = body["indicators"][0]
    assert (first["stt"], first["value"], first["display"]) == ("1", True, "Achieved")
    assert body["unit"] == {"key": "xa-a", "name": "Xã A", "level": "commune"}


def test_html_is_self_contained(sqlite_installed: Installed) -> None:
    page = render(sqlite_installed, ReportKind.INDICATORS, Format.HTML).content.decode()
    assert page.startswith("<!DOCTYPE html>") and VERSION in page
    for external in ("http://", "https://", "<link", " src="):
        assert external not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<svg" in page and "<script>" in page and "<style>" in page
