"""Phát khẩn cấp with a real agent: an emergency started from the console on the
agent's village, the pane showing that agent airing it from what the agent itself reports
(its heartbeat's "now playing", through the station's live state and events), then
stopped from the console and the agent seen falling silent.

(tests/tui/test_emergency_pane.py covers the tab's other workflows on agents that never
connect.)"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, SelectionList

from controller.cli.errors import CliError
from controller.tui.forms.dialogs import ConfirmDialog
from controller.tui.panes.emergency import EmergencyPane
from tests.tui.conftest import SLACK, FleetStation, drive, until
from tests.tui.workflow_support import Commune, tone

BASE = "/communes/xa-demo/emergencies"


@pytest.fixture
def cached_bulletin(fleet: FleetStation, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A 30 s bulletin pinned for emergencies and in the running agent's cache (long
    enough to be seen airing on a loaded machine); any emergency stopped afterwards."""
    fleet.wait_online()
    commune = Commune(fleet, "xa-demo", {})
    job = commune.import_file(tone(tmp_path / "canh-bao-lu.wav", seconds=30, frequency=660),
                              "Cảnh báo lũ")
    assert job["state"] == "done", job
    item = dict(job["item"])
    fleet.call("POST", "/communes/xa-demo/pins", {"content": item["sha256"], "note": "lũ"})
    deadline = time.monotonic() + 60 * SLACK
    while True:  # pinned content is pre-distributed; the agent reports its cache
        cache = (fleet.call("GET", f"/agents/{fleet.agent_id}/telemetry")
                 .get("telemetry") or {}).get("cache") or {}
        if cache.get("items", 0) >= 1 and cache.get("missing") == 0:
            break
        assert time.monotonic() < deadline, f"the agent did not cache the bulletin: {cache}"
        time.sleep(0.5)
    try:
        yield item
    finally:
        with contextlib.suppress(CliError):  # none on the air
            fleet.call("POST", f"{BASE}/stop")


def agent_cell(app: Any, agent_id: str) -> str:
    """What the pane's agent table says about the emergency, for one agent."""
    table = app.query_one("#emergency-agents", DataTable)
    try:
        return str(table.get_row(agent_id)[3])
    except Exception:
        return ""


def test_the_running_agent_airs_the_emergency_and_stops(
        fleet: FleetStation, cached_bulletin: dict[str, Any]) -> None:
    agent_id = fleet.agent_id
    assert fleet.live(agent_id)["playing"] in (None, "")  # nothing on the air before

    async def scenario() -> None:
        app = fleet.console()
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: bool(app.username), what="the connection")
            await pilot.press("4")
            pane = app.query_one(EmergencyPane)
            await until(pilot, lambda: any(i["sha256"] == cached_bulletin["sha256"]
                                           for i in pane.items)
                        and any(a["id"] == agent_id for a in pane.agents),
                        what="the bulletins and agents")
            await until(pilot, lambda: agent_cell(app, agent_id) == "im lặng",
                        what="the agent silent before")
            pane.query_one("#emergency-items").highlighted = next(
                n for n, i in enumerate(pane.items) if i["sha256"] == cached_bulletin["sha256"])
            app.query_one("#emergency-villages", SelectionList).select("thon-dong")
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            assert "Cảnh báo lũ" in app.screen.body and "Thôn Đông" in app.screen.body
            await pilot.press("y")
            await until(pilot, lambda: pane.active is not None, 20, "the emergency")
            emergency = pane.active
            assert emergency is not None and emergency["villages"] == ["thon-dong"]
            # The agent's own report, not the request: "now playing" is its emergency.
            await until(pilot, lambda: agent_cell(app, agent_id) == "ĐANG PHÁT", 30,
                        "the agent airing the emergency")
            playing = str(fleet.live(agent_id)["playing"] or "")
            assert playing.startswith(f"emergency:{emergency['id']}"), playing

            await pilot.press("x")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await until(pilot, lambda: pane.active is None, 20, "the emergency to stop")
            await until(pilot, lambda: agent_cell(app, agent_id) == "im lặng", 30,
                        "the agent falling silent")
            assert not fleet.live(agent_id)["playing"]
            [row] = [e for e in fleet.call("GET", BASE) if e["id"] == emergency["id"]]
            assert (row["active"], row["stop_reason"]) == (False, "stopped")

    drive(scenario)
