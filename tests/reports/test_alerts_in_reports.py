"""Alerts appear in the reports, in all four formats, read back: what was raised about
the commune reported on (open or cleared, with when), and nothing about another one.

The alerts are raised by the real evaluator on the scripted fleet (see
``test_alerts.py``): at 2026-11-02 22:00 ag-a1 has been offline for two hours, ag-a2's
journal backlog is two hours old, three airings were missed and thon-a3 is not reached;
at 22:10 ag-a1 is back, which clears its alert. At xa-b, ag-b1 is offline: listed in the
province's report (with xa-b's unreached villages), never in xa-a's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from openpyxl import load_workbook

from controller.alerts.evaluator import AlertEvaluator
from controller.events import EventBus
from controller.reports.builder import ReportBuilder
from controller.reports.document import ReportKind
from controller.reports.formats import Format
from controller.reports.service import ReportQuery, make_report
from controller.storage.database import Database
from protocols.clock import ManualClock

from . import scenario
from .conftest import Installed, install
from .test_alerts import NOW, THRESHOLDS, presence
from .test_formats import csv_sections

LATER = NOW + dt.timedelta(minutes=10)
# (kind as the Vietnamese reader sees it, subject, raised, cleared) for xa-a
EXPECTED = sorted([
    ("thiết bị mất kết nối", "ag-a1", "2026-11-02 22:00", "2026-11-02 22:10"),
    ("lượt phát bị lỡ", "ag-a3/prog-110107", "2026-11-02 22:00", "2026-11-02 22:00"),
    ("lượt phát bị lỡ", "ag-a3/prog-110207", "2026-11-02 22:00", "2026-11-02 22:00"),
    ("lượt phát bị lỡ", "ag-a4/prog-110211", "2026-11-02 22:00", "2026-11-02 22:00"),
    ("nhật ký tồn đọng tăng", "ag-a2", "2026-11-02 22:00", ""),
    ("thôn không có loa hoạt động", "thon-a3", "2026-11-02 22:00", ""),
])


@pytest.fixture(scope="module")
def alerted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('alerts') / 'loaxa.db'}")
    db.upgrade()
    installed = install(db)
    ids = installed.ids
    presence(db, ids["xa-a"], "ag-a1", online=False, seen_ago_min=120)
    presence(db, ids["xa-a"], "ag-a2", online=True, seen_ago_min=1, backlog=(40, 7200))
    presence(db, ids["xa-b"], "ag-b1", online=False, seen_ago_min=120)

    def evaluate(commune: str, at: dt.datetime) -> None:
        clock = ManualClock(wall_ns=int(at.timestamp()) * 10**9)
        AlertEvaluator(db, EventBus(), ids[commune], commune, clock, scenario.DEFINITION,
                       THRESHOLDS).evaluate()

    evaluate("xa-a", NOW)
    evaluate("xa-b", NOW)
    presence(db, ids["xa-a"], "ag-a1", online=True, seen_ago_min=-10)
    evaluate("xa-a", LATER)
    yield installed
    db.dispose()


def rendered(installed: Installed, fmt: Format, unit: str = "xa-a",
             kind: ReportKind = ReportKind.UPTIME) -> bytes:
    query = ReportQuery(kind, *scenario.PERIOD, fmt, unit=unit, language="vi")
    return make_report(ReportBuilder(installed.db), query, scenario.DEFINITION,
                       scenario.NOW)[1].content


def rows_of(table: list[list[str]]) -> list[tuple[str, str, str, str]]:
    head = table[0]
    at = {name: head.index(name) for name in ("Loại", "Đối tượng", "Thời điểm phát sinh",
                                              "Đã hết")}
    return sorted((r[at["Loại"]], r[at["Đối tượng"]], r[at["Thời điểm phát sinh"]],
                   r[at["Đã hết"]]) for r in table[1:])


def test_json_lists_the_alerts(alerted: Installed) -> None:
    body = json.loads(rendered(alerted, Format.JSON))
    found = sorted((a["kind"], a["subject"], a["raised_at"], a["cleared_at"])
                   for a in body["alerts"])
    raised, cleared = NOW.astimezone(dt.UTC).isoformat(), LATER.astimezone(dt.UTC).isoformat()
    assert found == sorted([
        ("alert_agent_offline", "ag-a1", raised, cleared),
        ("alert_airing_missed", "ag-a3/prog-110107", raised, raised),
        ("alert_airing_missed", "ag-a3/prog-110207", raised, raised),
        ("alert_airing_missed", "ag-a4/prog-110211", raised, raised),
        ("alert_journal_backlog", "ag-a2", raised, None),
        ("alert_village_unreached", "thon-a3", raised, None)])
    backlog = next(a for a in body["alerts"] if a["kind"] == "alert_journal_backlog")
    assert "backlog_records=40" in backlog["detail"] and "oldest_s=7200" in backlog["detail"]
    assert all(a["commune"] == "xa-a" for a in body["alerts"])


def test_csv_lists_the_alerts(alerted: Installed) -> None:
    sections = csv_sections(rendered(alerted, Format.CSV))
    assert rows_of(sections["Cảnh báo"]) == EXPECTED


def test_xlsx_lists_the_alerts(alerted: Installed, tmp_path: Path) -> None:
    path = tmp_path / "uptime.xlsx"
    path.write_bytes(rendered(alerted, Format.XLSX))
    sheet = load_workbook(path, read_only=True)["Cảnh báo"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]

    def text(value: object) -> str:  # the spreadsheet keeps times as times
        if isinstance(value, dt.datetime):
            return f"{value:%Y-%m-%d %H:%M}"
        return "" if value is None else str(value)

    assert rows_of([[text(v) for v in row] for row in rows]) == EXPECTED
    assert isinstance(rows[1][rows[0].index("Thời điểm phát sinh")], dt.datetime)


class TableRows(HTMLParser):
    """The cells of the table with the given id."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.inside = False
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.inside = dict(attrs).get("id") == self.table_id
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def test_html_lists_the_alerts(alerted: Installed) -> None:
    parser = TableRows("t-alerts")
    parser.feed(rendered(alerted, Format.HTML).decode())
    assert rows_of(parser.rows) == EXPECTED


def test_only_the_communes_reported_on(alerted: Installed) -> None:
    """The negative control: xa-b's alert is not in xa-a's report, but it is in the
    province's (so the filter, not a missing alert, keeps it out), indicator report
    included."""
    def subjects(unit: str, kind: ReportKind) -> set[tuple[str, str]]:
        sections = csv_sections(rendered(alerted, Format.CSV, unit, kind))
        return {(r[1], r[3]) for r in sections["Cảnh báo"][1:]}

    assert ("xa-b", "ag-b1") not in subjects("xa-a", ReportKind.UPTIME)
    province = subjects("tinh-a", ReportKind.INDICATORS)
    assert ("xa-b", "ag-b1") in province and ("xa-a", "thon-a3") in province
    # xa-b: ag-b1 offline, and thon-b1 (b1 up 74 %) and thon-c1 (no attestation in force)
    assert {s for c, s in province if c == "xa-b"} == {"ag-b1", "thon-b1", "thon-c1"}
    assert len(province) == len(EXPECTED) + 3
