"""The Phát khẩn cấp tab against a real controller: a cached bulletin and a village
chosen, the red confirmation, the emergency on the air agent by agent, stopped, refused
to a user without the emergency permission, acknowledged by an approver."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from textual.widgets import OptionList, SelectionList

from controller.tui.forms.dialogs import ConfirmDialog
from controller.tui.panes.emergency import EmergencyPane, airing_state
from tests.tui.conftest import drive, until
from tests.tui.workflow_support import CLOCK, DATE, Commune, assert_snapshot, furnish

KEY = "xa-khan-cap"
BASE = f"/communes/{KEY}/emergencies"
VOLATILE = [re.compile(r"em-\d{8}t\d{6}-[a-z0-9]+"), DATE, CLOCK]


@dataclass
class Setting:
    commune: Commune
    operator: str  # tokens: no emergency permission
    approver: str


@pytest.fixture(scope="module")
def setting(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Setting:
    commune = furnish(request, tmp_path_factory, KEY, "Xã Khẩn Cấp")
    commune.grant("admin", "operator", emergency=True)
    commune.call("POST", f"/communes/{KEY}/pins", {"content": commune.bulletin["sha256"],
                                                   "note": "bão"})
    return Setting(commune, commune.token("vanhanh-khan", "operator"),
                   commune.token("duyet-khan", "approver"))


def messages(app: Any, severity: str | None = None) -> list[str]:
    return [n.message for n in app._notifications
            if severity is None or n.severity == severity]


async def open_emergency(pilot: Any) -> EmergencyPane:
    app = pilot.app
    await until(pilot, lambda: app.connection.online and bool(app.username))
    await pilot.press("4")
    pane = app.query_one(EmergencyPane)
    await until(pilot, lambda: bool(pane.items) and bool(pane.agents),
                what="the bulletins and agents to load")
    return pane


def banner(app: Any) -> str:
    return str(app.query_one("#emergency-banner").render())


def test_the_idle_tab_and_its_red_confirmation(setting: Setting) -> None:
    async def scenario() -> None:
        app = setting.commune.console()
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_emergency(pilot)
            assert pane.items[0]["pinned"]
            assert app.query_one("#emergency-items", OptionList).has_focus
            await assert_snapshot(pilot, "emergency", VOLATILE)
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            assert app.screen.danger and "toàn xã" in app.screen.body
            await assert_snapshot(pilot, "emergency-confirm", VOLATILE)
            await pilot.press("n")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
            assert setting.commune.call("GET", BASE) == []

    drive(scenario)


def test_start_an_emergency_on_one_village_see_it_and_stop_it(setting: Setting) -> None:
    async def scenario() -> None:
        app = setting.commune.console()
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_emergency(pilot)
            app.query_one("#emergency-villages", SelectionList).select(f"{KEY}-thon-1")
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            assert "Thôn Một" in app.screen.body
            await pilot.press("y")
            await until(pilot, lambda: pane.active is not None, 20, "the emergency")
            [on_air] = setting.commune.call("GET", BASE, params={"active": "true"})
            assert (on_air["villages"], on_air["content"], on_air["started_by"]) == (
                [f"{KEY}-thon-1"], setting.commune.bulletin["sha256"], "admin")
            assert "ĐANG PHÁT KHẨN CẤP" in banner(app) and "Thôn Một" in banner(app)
            states = {a["id"]: airing_state(a, pane.active)[0] for a in pane.agents}
            assert states == {f"{KEY}-may-1": "chưa liên lạc được, chờ kết nối",
                              f"{KEY}-may-2": "không thuộc các thôn đã chọn"}
            await assert_snapshot(pilot, "emergency-on-air", VOLATILE)

            await pilot.press("x")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await until(pilot, lambda: pane.active is None, 20, "the emergency to stop")
            assert setting.commune.call("GET", BASE, params={"active": "true"}) == []
            assert "Không có tin khẩn cấp" in banner(app)
            assert any("Đã dừng tin khẩn cấp" in m for m in messages(app))

    drive(scenario)


def test_without_the_emergency_permission_the_refusal_is_shown(setting: Setting) -> None:
    async def scenario() -> None:
        app = setting.commune.console(setting.operator)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_emergency(pilot)
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await until(pilot, lambda: bool(messages(app, "error")))
            assert "quyền phát khẩn cấp" in messages(app, "error")[0]
            assert setting.commune.call("GET", BASE, params={"active": "true"}) == []

    drive(scenario)


def test_an_approver_acknowledges_it_afterwards(setting: Setting) -> None:
    setting.commune.call("POST", BASE, {"content": setting.commune.bulletin["sha256"],
                                        "all_villages": True})
    setting.commune.call("POST", f"{BASE}/stop")

    async def scenario() -> None:
        app = setting.commune.console(setting.approver)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_emergency(pilot)
            await until(pilot, lambda: bool(pane.emergencies))
            newest = pane.emergencies[0]["id"]
            app.query_one("#emergency-log").focus()
            await pilot.press("k")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await until(pilot, lambda: bool(pane.emergencies[0].get("acknowledged_by")), 20)
            [row] = [e for e in setting.commune.call("GET", BASE) if e["id"] == newest]
            assert row["acknowledged_by"] == "duyet-khan"
            assert setting.commune.call("GET", BASE, params={"unacknowledged": "true"}) \
                == [e for e in setting.commune.call("GET", BASE)
                    if e["acknowledged_by"] is None]

    drive(scenario)


def test_an_agent_airing_the_emergency_is_shown_as_airing_it() -> None:
    active = {"id": "em-1", "villages": ["thon-1"]}

    def agent(village: str, connectivity: str, playing: str | None) -> dict[str, Any]:
        return {"village": village, "live": {"connectivity": connectivity,
                                             "playing": playing}}

    assert airing_state(agent("thon-1", "online", "emergency:em-1:0"), active)[1]
    assert not airing_state(agent("thon-1", "online", "sang-20261122T230000Z"), active)[1]
    assert not airing_state(agent("thon-2", "online", None), active)[1]
    assert airing_state(agent("thon-2", "online", "emergency:em-1:3"),
                        {"id": "em-1", "villages": []})[1]
    assert not airing_state(agent("thon-1", "online", None), None)[1]
