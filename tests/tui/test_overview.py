"""Tổng quan against a real station: every village and cluster with the live state of
its agent, kept up to date by the event stream (and by polling without one)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from controller.tui.panes import overview
from controller.tui.panes.overview import OverviewPane
from tests.tui.conftest import FleetStation, drive, screen_text, until


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
