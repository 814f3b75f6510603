"""Tổng quan against a real station: every village and cluster with the live state of
its agent, kept up to date by the event stream (and by polling without one)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from textual.widgets import DataTable

from controller.cli.errors import CliError
from controller.tui.panes import overview
from controller.tui.panes.overview import OverviewPane
from tests.tui.conftest import FleetStation, drive, enrol, screen_text, until


def row_of(text: str, cluster: str) -> str:
    return next((line for line in text.splitlines() if f" {cluster} " in line), "")


def test_every_village_and_cluster_with_its_live_state(fleet: FleetStation) -> None:
    fleet.wait_online()

    async def scenario() -> None:
        app = fleet.console()
        async with app.run_test(size=(80, 24)) as pilot:
            pane = app.query_one(OverviewPane)
            await until(pilot, lambda: bool(pane.data), what="the overview to load")
            await until(pilot, lambda: "trực tuyến" in row_of(screen_text(app), "c-dong"),
                        what="the running agent online")
            text = screen_text(app)
            for label in ("Tổng quan", "Thiết bị", "Thôn Đông", "Thôn Tây", "Thôn Bắc",
                          "Tình trạng", "Đang phát", "Lần cuối", "Lịch phát hôm nay"):
                assert label in text, (label, text)
            assert "hữu tuyến" in row_of(text, "c-dong-2")  # a wired cluster: no agent
            assert "chưa ghi danh" in row_of(text, "c-tay")  # registered, not enrolled
            assert "chưa có máy" in row_of(text, "c-bac")
            # Other tests add clusters and agents to this station: count what it has.
            clusters = fleet.call("GET", "/clusters", params={"commune": "xa-demo"})
            agents = fleet.call("GET", "/agents", params={"commune": "xa-demo",
                                                          "status": "active"})
            assert f"3 thôn, {len(clusters)} cụm loa, 1/{len(agents)} thiết bị trực tuyến" \
                in text, text
            await until(pilot, lambda: "%" in row_of(screen_text(app), "c-dong"),
                        what="the volume from the agent's heartbeat")
            assert "Đã kết nối: admin, xã xa-demo" in app.sub_title
            assert "Không có chương trình nào đang phát." in text
            await pilot.press("d")  # the cluster's agent in Thiết bị
            assert app.current_pane().KEY == "overview"  # Thôn Bắc first: no agent
            table = pane.query_one("#clusters", DataTable)
            for _row in range(table.row_count):
                if "c-dong" in str(table.get_row_at(table.cursor_row)[1]):
                    break
                await pilot.press("down")
            await pilot.press("d")
            await until(pilot, lambda: app.current_pane().KEY == "devices",
                        what="the Devices tab")
            assert app.current_pane().selected == fleet.agent_id  # type: ignore[attr-defined]

    drive(scenario)


def test_changes_arrive_by_the_event_stream(fleet: FleetStation,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """No polling while the stream runs: a cluster added, and the agent going offline
    and coming back, are shown because the station said so."""
    monkeypatch.setattr(overview, "POLL_LIVE_S", 3600.0)
    fleet.wait_online()
    assert fleet.agent is not None

    async def scenario() -> None:
        app = fleet.console()
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.events_live and "c-dong" in screen_text(app),
                        what="the event stream")
            fleet.call("POST", "/communes/xa-demo/clusters", {
                "key": "c-event", "name": "Cụm mới", "kind": "ip", "station": "st-1",
                "village": "thon-bac"})
            await until(pilot, lambda: "c-event" in screen_text(app), timeout=10,
                        what="the new cluster, from its audit event")
            assert fleet.agent is not None
            assert fleet.agent.terminate() == 0
            await until(pilot, lambda: "mất kết nối" in row_of(screen_text(app), "c-dong"),
                        timeout=30, what="the agent offline")
            fleet.agent.start()
            await until(pilot, lambda: "trực tuyến" in row_of(screen_text(app), "c-dong"),
                        timeout=30, what="the agent back online")

    drive(scenario)
    fleet.wait_online()


def test_without_the_event_stream_the_overview_polls(fleet: FleetStation,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overview, "POLL_FALLBACK_S", 1.0)

    async def scenario() -> None:
        app = fleet.console(follow_events=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "c-dong" in screen_text(app), what="the overview")
            assert not app.events_live
            fleet.call("POST", "/communes/xa-demo/clusters", {
                "key": "c-poll", "name": "Cụm mới", "kind": "ip", "station": "st-1",
                "village": "thon-bac"})
            await until(pilot, lambda: "c-poll" in screen_text(app), timeout=10,
                        what="the new cluster, by polling")

    drive(scenario)


@pytest.fixture
def programme_on_the_air(fleet: FleetStation) -> Iterator[str]:
    """An approved programme on the air now, twenty minutes from the start of this minute,
    for a cluster of Thôn Bắc whose agent was enrolled (with its one-time code) and never
    started: it is planned for, and nothing really airs. Withdrawn afterwards."""
    with contextlib.suppress(CliError):  # made by an earlier run of this test
        fleet.call("POST", "/communes/xa-demo/clusters", {
            "key": "c-bac-2", "name": "Cụm 2", "kind": "ip", "station": "st-1",
            "village": "thon-bac"})
        enrol(fleet, "c-bac-2")
    approver = fleet.user("duyet-tong-quan", "approver")
    now = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    start = now.replace(second=0, microsecond=0)
    fleet.call("POST", "/communes/xa-demo/programmes", {
        "key": "dang-phat", "title": "Tin đang phát", "clusters": ["c-bac-2"],
        "recurrence": {"kind": "once", "on": start.date().isoformat(),
                       "at": start.time().isoformat()},
        "items": [{"content": "ab" * 32, "duration_ms": 20 * 60 * 1000}]}, token=approver)
    fleet.call("POST", "/communes/xa-demo/programmes/dang-phat/approve", {},
               token=approver)
    try:
        yield "Tin đang phát"
    finally:
        fleet.call("POST", "/communes/xa-demo/programmes/dang-phat/withdraw",
                   token=approver)


def test_an_open_alert_and_the_programme_on_the_air_now(fleet: FleetStation,
                                                        programme_on_the_air: str) -> None:
    """From the station, not from fakes: villages without a working agent are unreached
    (the fleet evaluates alerts every 5 s), and the programme approved above is on the
    air now."""
    title = programme_on_the_air

    async def scenario() -> None:
        app = fleet.console()
        async with app.run_test(size=(80, 24)) as pilot:
            pane = app.query_one(OverviewPane)
            await until(pilot, lambda: f"▶ Đang phát: «{title}»" in screen_text(app),
                        what="the programme on the air")
            entries = pane.data["timeline"]["entries"]
            assert [e["title"] for e in entries if e["programme"] == "dang-phat"] == [title]
            timeline = pane.query_one("#timeline", DataTable)
            rows = [str(timeline.get_row_at(n)[1]) for n in range(timeline.row_count)]
            assert f"▶ {title}" in rows, rows
            await until(pilot, lambda: bool(pane.data["alerts"]), 30, "an open alert")
            alerts = pane.data["alerts"]
            assert {a["kind"] for a in alerts} >= {"alert_village_unreached"}
            assert {a["subject"] for a in alerts} >= {"thon-tay"}  # its agent never enrolled
            first = alerts[0]
            label = {"alert_village_unreached": "Thôn chưa phủ sóng",
                     "alert_agent_offline": "Mất kết nối"}.get(first["kind"], "")
            await until(pilot, lambda: f"Cảnh báo đang mở ({len(pane.data['alerts'])})"
                        in screen_text(app), what="the alerts' count")
            text = screen_text(app)
            assert label in text and "Không có cảnh báo" not in text, text
            shown = pane.query_one("#alerts", DataTable)
            assert str(shown.get_row_at(0)[1]) == f"{label} {first['subject']}"
            assert shown.row_count == len(alerts)

    drive(scenario)
