"""The HTML report renders in a real headless Chromium (Debian ``chromium``), offline,
with its script run and its charts present: one bar per village with an IP cluster,
one timeline per village, the outages drawn on the short-period timeline and a cell per
day on a long one.

Without Chromium the page tests skip with the reason, unless ``LOAXA_REQUIRE_CHROMIUM=1``
(for CI) turns that into a failure, as ``LOAXA_REQUIRE_POSTGRES`` does for PostgreSQL:
the only check that the page really renders can never vanish silently."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from controller.reports.builder import ReportBuilder
from controller.reports.document import ReportKind
from controller.reports.formats import Format
from controller.reports.service import ReportQuery, make_report

from . import scenario
from .conftest import Installed

pytestmark = pytest.mark.e2e


def find_chromium() -> str | None:
    """On PATH, or where Debian puts it (PATH may be trimmed under a service manager)."""
    found = shutil.which("chromium")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    return found


def require_chromium(path: str | None) -> str:
    if path is not None:
        return path
    reason = "Debian chromium is not installed (apt-get install chromium)"
    if os.environ.get("LOAXA_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"{reason}, and LOAXA_REQUIRE_CHROMIUM=1 forbids skipping")
    pytest.skip(reason)


@pytest.fixture
def chromium() -> str:
    return require_chromium(find_chromium())


def test_a_missing_chromium_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAXA_REQUIRE_CHROMIUM", "1")
    with pytest.raises(pytest.fail.Exception, match="LOAXA_REQUIRE_CHROMIUM"):
        require_chromium(None)
    monkeypatch.delenv("LOAXA_REQUIRE_CHROMIUM")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require_chromium(None)
    assert require_chromium("/opt/chromium") == "/opt/chromium"  # found: it runs


def dump_dom(chromium: str, page: Path, profile: Path) -> str:
    """The DOM after load (scripts run), as headless Chromium serialises it."""
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--no-first-run",
         f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom",
         page.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Elements(HTMLParser):
    """Collects (tag, attributes) of every element."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))

    def having(self, tag: str, css: str) -> list[dict[str, str]]:
        return [a for t, a in self.found if t == tag and css in a.get("class", "").split()]


def rendered(chromium: str, installed: Installed, tmp_path: Path, kind: ReportKind,
             start: dt.date, end: dt.date) -> tuple[str, Elements]:
    query = ReportQuery(kind, start, end, Format.HTML, unit="tinh-a", language="vi")
    page = tmp_path / f"{kind.value}.html"
    page.write_bytes(make_report(ReportBuilder(installed.db), query, scenario.DEFINITION,
                                 scenario.NOW)[1].content)
    dom = dump_dom(chromium, page, tmp_path / f"profile-{kind.value}")
    parser = Elements()
    parser.feed(dom)
    return dom, parser


def test_uptime_page_renders_with_its_charts(chromium: str, sqlite_installed: Installed,
                                            tmp_path: Path) -> None:
    dom, elements = rendered(chromium, sqlite_installed, tmp_path, ReportKind.UPTIME,
                             *scenario.PERIOD)
    body = next(a for t, a in elements.found if t == "body")
    assert body["data-ready"] == "1"  # the page's script ran in Chromium
    assert re.search(r'id="rendered">4 / 6<', dom)  # ... and counted what it drew
    bars = elements.having("rect", "bar")
    assert {b["data-village"] for b in bars} == {"thon-a1", "thon-a2", "thon-a3", "thon-b1"}
    assert float(next(b for b in bars if b["data-village"] == "thon-b1")["data-value"]) \
        == pytest.approx(50.5 / 68, abs=1e-6)
    assert len(elements.having("line", "threshold")) == 1
    timelines = elements.having("svg", "timeline")
    assert [t["data-village"] for t in timelines] == ["thon-a1", "thon-a2", "thon-a3",
                                                      "thon-b1", "thon-b2", "thon-c1"]
    assert len(elements.having("rect", "outage")) == 7  # the seven outages of the period
    assert len(elements.having("rect", "window")) == 6 * 4  # a service window per day
    assert "loaxa-2024.1" in dom and "Báo cáo thời gian hoạt động" in dom


def test_long_period_page_has_a_cell_per_day(chromium: str, sqlite_installed: Installed,
                                            tmp_path: Path) -> None:
    dom, elements = rendered(chromium, sqlite_installed, tmp_path, ReportKind.INDICATORS,
                             dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert next(a for t, a in elements.found if t == "body")["data-ready"] == "1"
    cells = elements.having("rect", "cell")
    assert len(cells) == 6 * 31
    assert len(elements.having("svg", "timeline")) == 6
    assert len(elements.having("rect", "bar")) == 4
    assert "Báo cáo chỉ tiêu 1 và 2" in dom
