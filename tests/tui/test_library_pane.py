"""The Thư viện tab against a real controller: a real file imported with its progress, a
rename and a delete after a confirmation, refusals as translated notifications."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input

from controller.tui.forms.dialogs import ConfirmDialog, PromptDialog
from controller.tui.panes.library import LibraryPane
from tests.tui.conftest import drive, until
from tests.tui.workflow_support import Commune, assert_snapshot, furnish, tone

KEY = "xa-thu-vien"


@pytest.fixture(scope="module")
def commune(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Commune:
    return furnish(request, tmp_path_factory, KEY, "Xã Thư Viện")


def items(commune: Commune) -> list[dict[str, Any]]:
    return list(commune.call("GET", f"/communes/{KEY}/library"))


def messages(app: Any, severity: str | None = None) -> list[str]:
    return [n.message for n in app._notifications
            if severity is None or n.severity == severity]


async def open_library(pilot: Any) -> LibraryPane:
    app = pilot.app
    await until(pilot, lambda: app.connection.online and bool(app.username))
    await pilot.press("2")
    pane = app.query_one(LibraryPane)
    await until(pilot, lambda: bool(pane.items), what="the library to load")
    return pane


async def type_path(pilot: Any, path: Path) -> None:
    await pilot.press("i")
    field = pilot.app.query_one("#library-path", Input)
    await until(pilot, lambda: field.has_focus)
    field.value = str(path)
    await pilot.press("enter")


def test_the_library_as_the_operator_first_sees_it(commune: Commune) -> None:
    async def scenario() -> None:
        app = commune.console()
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_library(pilot)
            assert [i["title"] for i in pane.items] == ["Bản tin sáng"]
            table = app.query_one("#library-items", DataTable)
            assert table.row_count == 1
            number = re.compile(  # item numbers are station-wide
                rf"(?<=>)&#160;{commune.bulletin['id']}(&#160;)+(?=</text>)")
            await assert_snapshot(pilot, "library", [number])
            pane.show_progress("rendering", 40)  # as an import goes on
            await assert_snapshot(pilot, "library-importing", [number])
            pane.hide_progress()

    drive(scenario)


def test_import_a_file_with_progress_then_rename_and_delete_it(
        commune: Commune, tmp_path: Path) -> None:
    bulletin = tone(tmp_path / "tin-bao-so-3.wav", seconds=2, frequency=660)

    async def scenario() -> None:
        app = commune.console()
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_library(pilot)
            stages: list[tuple[str, int]] = []
            shown = pane.show_progress
            pane.show_progress = lambda stage, percent: (  # type: ignore[method-assign]
                stages.append((stage, percent)), shown(stage, percent))[-1]
            await type_path(pilot, bulletin)
            await until(pilot, lambda: len(pane.items) == 2, 60, "the import to finish")
            assert stages[0] == ("uploading", 0) and len({s for s, _p in stages}) >= 2
            assert any("Đã thêm «tin-bao-so-3»" in m for m in messages(app))
            assert app.query_one("#library-path", Input).value == ""
            added = next(i for i in items(commune) if i["title"] == "tin-bao-so-3")
            assert added["duration_ms"] == 2000
            assert pane.selected() is not None and pane.selected()["id"] == added["id"]

            # rename it: a prompt with the old title, then the new one
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, PromptDialog))
            field = app.screen.query_one(Input)
            await until(pilot, lambda: field.has_focus)
            assert field.value == "tin-bao-so-3"
            field.value = "Tin bão số 3"
            await pilot.press("enter")
            await until(pilot, lambda: any(i["title"] == "Tin bão số 3" for i in pane.items))
            assert {i["title"] for i in items(commune)} == {"Bản tin sáng", "Tin bão số 3"}

            # delete it: a red confirmation; "n" keeps it, "y" deletes it
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            assert "Tin bão số 3" in str(app.screen.body)
            await pilot.press("n")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
            assert len(items(commune)) == 2
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await until(pilot, lambda: len(pane.items) == 1)
            assert [i["title"] for i in items(commune)] == ["Bản tin sáng"]
            assert any("Đã xoá «Tin bão số 3»" in m for m in messages(app))

    drive(scenario)


def test_a_refused_file_and_a_missing_one_are_translated_notifications(
        commune: Commune, tmp_path: Path) -> None:
    corrupt = tmp_path / "hong.mp3"
    corrupt.write_bytes(b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 40)

    async def scenario() -> None:
        app = commune.console()
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_library(pilot)
            await type_path(pilot, tmp_path / "khong-co.mp3")
            await until(pilot, lambda: bool(messages(app, "error")))
            assert "Không có tệp" in messages(app, "error")[0]
            app.clear_notifications()
            await type_path(pilot, corrupt)
            await until(pilot, lambda: bool(messages(app, "error")), 60,
                        "the refusal of the corrupt file")
            [refusal] = [n for n in app._notifications if n.severity == "error"]
            assert "hong.mp3" in refusal.title and "Traceback" not in refusal.message
            assert refusal.message.strip() and not pane.importing
            assert len(items(commune)) == 1

    drive(scenario)
