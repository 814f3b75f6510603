"""The snapshot check itself (tests/tui/workflow_support.py): a missing golden file fails
unless ``LOAXA_UPDATE_SNAPSHOTS=1`` asks to record it, a recorded one passes, and a
changed screen fails. On the frozen commune of tests/tui/fakes.py (no controller)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.tui import LoaxaConsole
from controller.tui.panes.overview import OverviewPane
from tests.tui import workflow_support
from tests.tui.conftest import drive, until
from tests.tui.fakes import NOW, FrozenConnection
from tests.tui.workflow_support import assert_snapshot


def snapshot(name: str) -> None:
    async def scenario() -> None:
        app = LoaxaConsole(FrozenConnection(), commune="xa-demo", clock=lambda: NOW)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = app.query_one(OverviewPane)
            await until(pilot, lambda: bool(pane.data), what="the overview")
            await assert_snapshot(pilot, name)

    drive(scenario)


def test_a_missing_golden_fails_unless_asked_to_record_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workflow_support, "SNAPSHOTS", tmp_path)
    monkeypatch.delenv("LOAXA_UPDATE_SNAPSHOTS", raising=False)
    golden = tmp_path / "probe.svg"

    with pytest.raises(AssertionError, match="no golden snapshot"):
        snapshot("probe")
    assert not golden.exists()  # nothing recorded behind the operator's back

    monkeypatch.setenv("LOAXA_UPDATE_SNAPSHOTS", "1")
    snapshot("probe")
    assert "<svg" in golden.read_text(encoding="utf-8")

    monkeypatch.delenv("LOAXA_UPDATE_SNAPSHOTS")
    snapshot("probe")  # the same screen: passes

    golden.write_text(golden.read_text(encoding="utf-8").replace("Thôn", "Xóm"),
                      encoding="utf-8")
    monkeypatch.setattr(workflow_support, "SETTLE_S", 1.0)  # it will never settle into it
    with pytest.raises(AssertionError, match="differs"):
        snapshot("probe")
