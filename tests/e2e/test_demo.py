"""`loaxa demo` as a newcomer runs it: a whole commune end to end, by itself, quickly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def run_demo(*args: str, lang: str = "vi") -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "controller.cli.entry", "demo", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "LOAXA_LANG": lang})
    return done, time.monotonic() - began


def test_demo_vietnamese_narration_and_summary(tmp_path: Path) -> None:
    done, _ = run_demo("--data-dir", str(tmp_path / "vi"))
    assert done.returncode == 0, done.stderr
    assert "Khởi động đài truyền thanh" in done.stdout and "Tóm tắt" in done.stdout


def test_demo_json_summary(tmp_path: Path) -> None:
    done, took = run_demo("--json", "--data-dir", str(tmp_path / "demo"))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout)
    assert took < 60, f"the demo took {took:.0f} s"
    assert len(summary["villages"]) >= 6
    assert sum(summary["clusters_by_kind"].values()) >= 10
    assert summary["clusters_by_kind"].get("wired", 0) + \
        summary["clusters_by_kind"].get("fm", 0) > 0  # legacy clusters
    assert "fm" in summary["stations_by_kind"] or "wired" in summary["stations_by_kind"]
    agents = summary["agents"]
    assert len(agents) == summary["clusters_by_kind"]["ip"]
    assert {a["connectivity"] for a in agents} == {"online"}
    outage = summary["outage"]
    assert outage["backfilled"] > 0  # journalled while cut off, delivered afterwards
    assert outage["records_after"] > outage["records_during"] >= outage["records_before"]
    cut = next(a for a in agents if a["agent"] == outage["agent"])
    others = [a["available_s"] for a in agents if a is not cut]
    # Cut off from the network, not from its loudspeakers: its own journal keeps its
    # availability, so it is no lower than a neighbour's (give or take one extension).
    assert cut["available_s"] >= min(others) - 1.0
