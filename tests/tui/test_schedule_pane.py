"""The Lịch phát tab against a real controller: a programme created in the form, its
conflict with the approved schedule shown and resolved (append, then override on an
edit), an approval refused to an operator and given by an approver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Checkbox, DataTable, Input, Select, SelectionList

from controller.tui.forms.dialogs import ConfirmDialog, ConflictDialog
from controller.tui.forms.programme import ProgrammeForm
from controller.tui.forms.session import SessionForm
from controller.tui.panes.schedule import SchedulePane
from tests.tui.conftest import drive, screen_text, until
from tests.tui.workflow_support import DATE, Commune, assert_snapshot, furnish

KEY = "xa-lich-phat"
BASE = f"/communes/{KEY}/programmes"


@dataclass
class Setting:
    commune: Commune
    operator: str  # tokens
    approver: str


@pytest.fixture(scope="module")
def setting(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Setting:
    """The commune with an approved daily programme at 06:00 (``sang``), an operator and
    an approver."""
    commune = furnish(request, tmp_path_factory, KEY, "Xã Lịch Phát")
    operator = commune.token("vanhanh-lich", "operator")
    approver = commune.token("duyet-lich", "approver")
    api = commune.api()
    api.http.headers["Authorization"] = f"Bearer {approver}"
    try:
        api.call("POST", f"/communes/{KEY}/sessions", body={
            "key": "sang-som", "name": "Buổi sáng", "start": "05:30:00", "cap_minutes": 45})
        api.call("POST", BASE, body={
            "key": "sang", "title": "Thời sự sáng", "recurrence": {"kind": "daily",
                                                                   "at": "06:00:00"},
            "items": [{"content": commune.bulletin["sha256"]}]})
        api.call("POST", f"{BASE}/sang/approve", body={})
    finally:
        api.close()
    return Setting(commune, operator, approver)


def form_ready(app: App[None]) -> bool:
    """The programme form is pushed *and* composed (a loaded machine shows the gap)."""
    return isinstance(app.screen, ProgrammeForm) and bool(app.screen.query("#f-kind")) \
        and bool(app.screen.query("#f-title"))


def programme(setting: Setting, key: str) -> dict[str, Any]:
    return dict(setting.commune.call("GET", f"{BASE}/{key}"))


def messages(app: Any, severity: str | None = None) -> list[str]:
    return [n.message for n in app._notifications
            if severity is None or n.severity == severity]


async def open_schedule(pilot: Any) -> SchedulePane:
    app = pilot.app
    await until(pilot, lambda: app.connection.online and bool(app.username))
    await pilot.press("3")
    pane = app.query_one(SchedulePane)
    await until(pilot, lambda: bool(pane.programmes), what="the programmes to load")
    return pane


async def highlight(pilot: Any, pane: SchedulePane, key: str) -> None:
    pane.select(key)
    await pilot.pause()
    assert (pane.selected() or {}).get("key") == key


def test_the_schedule_and_the_empty_form_as_the_operator_sees_them(
        setting: Setting) -> None:
    async def scenario() -> None:
        app = setting.commune.console(setting.operator)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_schedule(pilot)
            assert [p["key"] for p in pane.programmes] == ["sang"]
            detail = str(app.query_one("#schedule-detail").render())
            assert detail.count("06:00") == 3  # its next three airings
            await assert_snapshot(pilot, "schedule", [DATE])  # the days move on
            await pilot.press("n")
            await until(pilot, lambda: form_ready(app))
            await assert_snapshot(pilot, "schedule-form")

    drive(scenario)


def test_a_programme_from_the_form_conflicts_is_appended_and_approved(
        setting: Setting) -> None:
    async def scenario() -> None:
        app = setting.commune.console(setting.operator)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_schedule(pilot)
            await pilot.press("n")
            await until(pilot, lambda: form_ready(app))
            form = app.screen
            form.query_one("#f-title", Input).value = "Tin trưa"
            form.query_one("#f-key", Input).value = "tin-trua"
            form.query_one("#f-item", Select).value = setting.commune.bulletin["sha256"]
            form.query_one("#f-at", Input).value = "06:00"
            form.query_one("#f-villages", SelectionList).select(f"{KEY}-thon-1")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: isinstance(app.screen, ConflictDialog), 20,
                        "the conflict to be shown")
            shown = " ".join(app.screen.conflicts)
            assert "trùng giờ với sang" in shown
            await pilot.press("a")  # append after what is on the air
            await until(pilot, lambda: any(p["key"] == "tin-trua" for p in pane.programmes),
                        20, "the new programme in the list")
            assert not isinstance(app.screen, ProgrammeForm)
            assert any("Đã tạo bản nháp tin-trua" in m for m in messages(app))
            made = programme(setting, "tin-trua")
            assert (made["status"], made["placement"], made["villages"]) == (
                "draft", "append", [f"{KEY}-thon-1"])
            assert made["recurrence"] == {"kind": "daily", "at": "06:00:00", "since": None}

            # the operator may not approve it: the controller's refusal is shown
            await highlight(pilot, pane, "tin-trua")
            app.clear_notifications()
            await pilot.press("a")
            await until(pilot, lambda: bool(messages(app, "error")))
            assert "Chỉ người phê duyệt" in messages(app, "error")[0]
            assert programme(setting, "tin-trua")["status"] == "draft"

        approver = setting.commune.console(setting.approver)
        async with approver.run_test(size=(80, 24)) as pilot:
            pane = await open_schedule(pilot)
            await highlight(pilot, pane, "tin-trua")
            await pilot.press("a")
            await until(pilot, lambda: programme(setting, "tin-trua")["status"] ==
                        "approved", 20, "the approval")
            await until(pilot, lambda: any(m.startswith("Đã duyệt tin-trua")
                                           for m in messages(approver)))
            assert programme(setting, "tin-trua")["approved_by"] == "duyet-lich"

            # and takes it off the air again, after a confirmation
            await highlight(pilot, pane, "tin-trua")
            await pilot.press("w")
            await until(pilot, lambda: isinstance(approver.screen, ConfirmDialog))
            await pilot.press("y")
            await until(pilot, lambda: programme(setting, "tin-trua")["status"] ==
                        "withdrawn", 20, "the withdrawal")

    drive(scenario)


def test_an_edit_that_conflicts_is_resolved_with_an_override(setting: Setting) -> None:
    async def scenario() -> None:
        app = setting.commune.console(setting.operator)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_schedule(pilot)
            await pilot.press("n")
            await until(pilot, lambda: form_ready(app))
            form = app.screen
            form.query_one("#f-title", Input).value = "Tin bão"
            form.query_one("#f-key", Input).value = "tin-bao"
            form.query_one("#f-item", Select).value = setting.commune.bulletin["sha256"]
            form.query_one("#f-kind", Select).value = "weekly"
            await until(pilot, lambda: form.query_one("#row-weekdays").display)
            for day in ("mon", "thu"):  # ticked from the keyboard
                box = form.query_one(f"#f-day-{day}", Checkbox)
                box.focus()
                await until(pilot, lambda box=box: box.has_focus)
                await pilot.press("space")
                await until(pilot, lambda box=box: box.value)
            form.query_one("#f-at", Input).value = "20:15"
            form.query_one("#f-priority", Select).value = "priority"
            form.query_one("#f-policy", Select).value = "skip_if_busy"
            await pilot.press("ctrl+s")  # no conflict: saved at once
            await until(pilot, lambda: any(p["key"] == "tin-bao" for p in pane.programmes),
                        20, "the new programme in the list")
            assert programme(setting, "tin-bao")["policy"] == "skip_if_busy"
            await highlight(pilot, pane, "tin-bao")
            await pilot.press("e")
            await until(pilot, lambda: form_ready(app))
            form = app.screen
            assert form.query_one("#f-title", Input).value == "Tin bão"
            assert form.query_one("#f-at", Input).value == "20:15"
            assert form.query_one("#f-policy", Select).value == "skip_if_busy"
            form.query_one("#f-policy", Select).value = "preempt"
            form.query_one("#f-at", Input).value = "06:00"
            await pilot.press("ctrl+s")
            await until(pilot, lambda: isinstance(app.screen, ConflictDialog), 20,
                        "the conflict to be shown")
            await pilot.press("o")  # override: it wins at its priority
            await until(pilot, lambda: not isinstance(app.screen, (ConflictDialog,
                                                                   ProgrammeForm)), 20)
            edited = programme(setting, "tin-bao")
            assert (edited["placement"], edited["priority"], edited["status"],
                    edited["policy"]) == ("override", "priority", "draft", "preempt")
            assert edited["recurrence"] == {"kind": "weekly", "weekdays": ["mon", "thu"],
                                            "at": "06:00:00", "since": None}
            await until(pilot, lambda: "T2,T5 06:00" in [str(c) for c in app.query_one(
                "#schedule-programmes", DataTable).get_row("tin-bao")], 30)
            await highlight(pilot, pane, "tin-bao")
            assert "Khi đang bận: ngắt nội dung đang phát" in str(
                app.query_one("#schedule-detail").render())

    drive(scenario)


def test_the_form_says_what_to_correct_and_stays_open(setting: Setting) -> None:
    async def scenario() -> None:
        app = setting.commune.console(setting.operator)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_schedule(pilot)
            await pilot.press("n")
            await until(pilot, lambda: form_ready(app))
            form = app.screen
            await pilot.press("ctrl+s")
            await until(pilot, lambda: bool(messages(app, "warning")))
            assert form.query_one("#f-title", Input).has_focus
            form.query_one("#f-title", Input).value = "Thử"
            form.query_one("#f-item", Select).value = setting.commune.bulletin["sha256"]
            form.query_one("#f-kind", Select).value = "every"
            await until(pilot, lambda: form.query_one("#row-minutes").display)
            assert not form.query_one("#row-at").display
            form.query_one("#f-minutes", Input).value = "30"
            form.query_one("#f-start", Input).value = "ngày mai"
            app.clear_notifications()
            await pilot.press("ctrl+s")
            await until(pilot, lambda: bool(messages(app, "warning")))
            assert "YYYY-MM-DD HH:MM" in messages(app, "warning")[0]
            assert isinstance(app.screen, ProgrammeForm)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ProgrammeForm))
            keys = {p["key"] for p in setting.commune.call("GET", BASE)}
            assert "Thử" not in {p["title"] for p in setting.commune.call("GET", BASE)}
            assert keys >= {"sang"}

    drive(scenario)


def keys(app: Any) -> set[str]:
    return {b.binding.description for b in app.screen.active_bindings.values()}


def session(setting: Setting, key: str) -> dict[str, Any]:
    return dict(setting.commune.call("GET", f"/communes/{KEY}/sessions/{key}"))


async def save_form(pilot: Any, app: Any) -> None:
    """Save the session form and wait until the controller took it."""
    await pilot.press("ctrl+s")
    await until(pilot, lambda: not isinstance(app.screen, SessionForm), 20,
                "the session to be saved")


def test_sessions_are_created_and_edited_in_their_form(setting: Setting) -> None:
    async def scenario() -> None:
        app = setting.commune.console(setting.operator)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_schedule(pilot)
            # the programmes' keys first
            assert "Khung giờ mới" not in keys(app) and "Chương trình mới" in keys(app)
            await pilot.press("s")  # to the sessions: n and e now act on them
            await until(pilot, lambda: pane.on_sessions() and "Khung giờ mới" in keys(app))
            assert "Chương trình mới" not in keys(app) and "Duyệt" not in keys(app)
            await until(pilot, lambda: "n Khung giờ mới" in screen_text(app)
                        and "e Sửa khung giờ" in screen_text(app), what="the footer")
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, SessionForm)
                        and bool(app.screen.query("#s-key")))
            form = app.screen
            await assert_snapshot(pilot, "schedule-session-form", [DATE])

            await pilot.press("ctrl+s")  # empty: the form says what is missing
            await until(pilot, lambda: bool(messages(app, "warning")))
            assert form.query_one("#s-key", Input).has_focus
            form.query_one("#s-key", Input).value = "trua"
            form.query_one("#s-name", Input).value = "Buổi trưa"
            form.query_one("#s-start", Input).value = "11:00"
            form.query_one("#s-cap", Input).value = "0"
            app.clear_notifications()
            await pilot.press("ctrl+s")
            await until(pilot, lambda: bool(messages(app, "warning")))
            assert "1 đến 1440" in messages(app, "warning")[0]
            assert form.query_one("#s-cap", Input).has_focus
            form.query_one("#s-cap", Input).value = "15"
            for day in ("sat", "sun"):  # weekdays only, from the keyboard
                box = form.query_one(f"#s-day-{day}", Checkbox)
                box.focus()
                await until(pilot, lambda box=box: box.has_focus)
                await pilot.press("space")
                await until(pilot, lambda box=box: not box.value)
            await save_form(pilot, app)
            made = session(setting, "trua")
            assert (made["name"], made["start"], made["cap_minutes"],
                    made["length_minutes"], made["weekdays"]) == (
                "Buổi trưa", "11:00:00", 15, None, ["mon", "tue", "wed", "thu", "fri"])
            assert any("Đã tạo khung giờ trua" in m for m in messages(app))
            await until(pilot, lambda: "trua" in [str(c) for c in app.query_one(
                "#schedule-sessions", DataTable).get_row_at(
                app.query_one("#schedule-sessions", DataTable).cursor_row)])

            await pilot.press("e")  # the session under the cursor: trua
            await until(pilot, lambda: isinstance(app.screen, SessionForm)
                        and bool(app.screen.query("#s-name")))
            form = app.screen
            assert not form.query("#s-key")  # an id does not change
            assert (form.query_one("#s-name", Input).value,
                    form.query_one("#s-start", Input).value,
                    form.query_one("#s-cap", Input).value) == ("Buổi trưa", "11:00", "15")
            assert not form.query_one("#s-day-sat", Checkbox).value
            form.query_one("#s-start", Input).value = "11:30"
            form.query_one("#s-window", Input).value = "30"
            form.query_one("#s-day-sat", Checkbox).value = True
            await save_form(pilot, app)
            edited = session(setting, "trua")
            assert (edited["start"], edited["cap_minutes"], edited["length_minutes"],
                    edited["weekdays"]) == (
                "11:30:00", 15, 30, ["mon", "tue", "wed", "thu", "fri", "sat"])
            await until(pilot, lambda: ["trua", "Buổi trưa", "11:30", "15",
                                        "T2,T3,T4,T5,T6,T7"] in [
                [str(c) for c in row] for row in (
                    app.query_one("#schedule-sessions", DataTable).get_row_at(n)
                    for n in range(len(pane.sessions)))])

            # the controller's refusal: the id is taken; the form stays open
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, SessionForm)
                        and bool(app.screen.query("#s-key")))
            form = app.screen
            form.query_one("#s-key", Input).value = "sang-som"
            form.query_one("#s-start", Input).value = "05:00"
            form.query_one("#s-cap", Input).value = "30"
            app.clear_notifications()
            await pilot.press("ctrl+s")
            await until(pilot, lambda: bool(messages(app, "error")), 20)
            assert "sang-som" in messages(app, "error")[0]
            assert isinstance(app.screen, SessionForm)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, SessionForm))
            assert session(setting, "sang-som")["start"] == "05:30:00"  # unchanged

            await pilot.press("escape")  # back to the programmes
            await until(pilot, lambda: not pane.on_sessions()
                        and "Chương trình mới" in keys(app))

    drive(scenario)
