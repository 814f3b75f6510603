"""Distribution progress as an operator follows it (issue 5 item 6): a bulletin pinned
for the commune reaches a real agent process (enrolled with its own CLI, fetching over
CURVE/ZeroMQ from the station's content service at a low egress cap), and

* the event stream carries ``content_transfer`` events for it, percent rising, about one
  a second, ending in ``cached``;
* the per-item distribution view says the same;
* ``loaxa library transfers ITEM --watch`` follows it to the end: bars redrawn in place on
  a terminal (a real pty), a line per change in a pipe, JSON lines for scripts; on an item
  no agent needs it gives up at its timeout and says so (the negative control).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.agent_process import FAST, AgentProcess, ProvisionedAgent
from tests.support.station_process import ROOT

from .station import COMMUNE, EventTap, Station, enrol, imported, station

pytestmark = pytest.mark.e2e
EGRESS_KBPS = 64  # 8 kB/s: the 40 s bulletin takes several seconds past the burst
BURST_BYTES = 4 * 16 * 1024


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    with station(tmp_path_factory.mktemp("progress-station"),
                 daemon_env={"LOAXA_DATAPLANE__EGRESS_KBPS": str(EGRESS_KBPS)}) as running:
        yield running


def cli(running: Station, *args: str) -> list[str]:
    return [sys.executable, "-m", "controller.cli.entry", "-c", str(running.operator.config),
            *args]


def in_pty(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``command`` with a terminal as its output; its exit code and all it drew."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            env=env, cwd=ROOT)
    os.close(slave)
    drawn = bytearray()
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process has gone and closed the terminal
                break
            if not data:
                break
            drawn += data
    finally:
        os.close(master)
    return proc.wait(30), drawn.decode("utf-8", errors="replace")


def piped(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=180)


def test_a_pinned_bulletin_reaches_a_real_agent_and_the_operator_follows_it(
        running: Station, long_bulletin: Path, other_bulletin: Path, tmp_path: Path) -> None:
    long = imported(running, long_bulletin, "Bản tin dài")
    unneeded = imported(running, other_bulletin, "Không ai cần")
    assert long["size_bytes"] > BURST_BYTES + 4 * EGRESS_KBPS * 125  # >= 4 s at the cap
    enrolled = enrol(running, tmp_path / "agent")
    agent = AgentProcess(ProvisionedAgent(enrolled.agent_id, COMMUNE, enrolled.data_dir,
                                          enrolled.config), settings=dict(FAST))
    env = running.operator.env
    watch = ["library", "transfers", long["sha256"], "--watch", "--timeout", "150"]
    agent.start()
    try:
        agent.wait_started()
        with EventTap(running.socket) as tap, ThreadPoolExecutor(max_workers=4) as pool:
            on_terminal: Future[tuple[int, str]] = pool.submit(in_pty, cli(running, *watch),
                                                               env)
            in_lines = pool.submit(piped, cli(running, *watch), env)
            as_json = pool.submit(piped, cli(running, *watch, "--json"), env)
            nobody = pool.submit(piped, cli(running, "library", "transfers",
                                            unneeded["sha256"], "--watch", "--timeout", "3"),
                                 env)
            time.sleep(2.0)  # the watchers are up before anyone needs the bulletin
            started = time.monotonic()
            running.operator.json("schedule", "pin", long["sha256"], "--note", "bão")
            code, drawn = on_terminal.result(timeout=180)
            lines, scripted, control = in_lines.result(), as_json.result(), nobody.result()
            took = time.monotonic() - started
            events = [e for e in tap.of_kind("content_transfer")
                      if (e["agent_id"], e["sha256"]) == (enrolled.agent_id, long["sha256"])]
        view = running.operator.json("library", "transfers", long["sha256"])
    finally:
        agent.terminate()

    # The event stream: percent rising to 100, a state change for each step, in cached.
    assert events, tap.of_kind("content_transfer")
    percents = [e["percent"] for e in events]
    assert percents == sorted(percents), percents
    assert [e["state"] for e in events][-1] == "cached" and percents[-1] == 100
    assert "sending" in {e["state"] for e in events}
    assert any(0 < p < 100 for p in percents), percents  # progress between the states
    assert events[-1]["sent_bytes"] == events[-1]["size_bytes"] == long["size_bytes"]
    assert events[-1]["commune"] == COMMUNE
    # ... rate-limited: progress at most about once a second (plus each state change)
    span_s = (dt.datetime.fromisoformat(events[-1]["at"])
              - dt.datetime.fromisoformat(events[0]["at"])).total_seconds()
    states = len({e["state"] for e in events})
    assert len(events) <= span_s + states + 2, (len(events), span_s)
    assert span_s >= 0.5 * (long["size_bytes"] - BURST_BYTES) / (EGRESS_KBPS * 125)

    # The per-item view
    [report] = view
    assert report["pending"] == 0 and report["running"]
    assert [(a["agent_id"], a["targeted"], a["state"], a["percent"], a["sent_bytes"])
            for a in report["agents"]] == [(enrolled.agent_id, True, "cached", 100,
                                            long["size_bytes"])]
    assert (enrolled.data_dir / "cache" / "items" / long["sha256"]).is_file()

    # On a terminal: bars redrawn in place, from part of the way to full, then a summary.
    assert code == 0, drawn
    assert "\x1b[" in drawn and re.search(r"\x1b\[\d+F", drawn), drawn[-2000:]
    assert re.search(r"\[#{1,23}\.+\]\s+\d+%", drawn), drawn[-2000:]  # part of the way
    assert f"[{'#' * 24}] 100%" in drawn and enrolled.agent_id in drawn
    assert "1/1" in drawn.rsplit("100%", 1)[1], drawn[-500:]
    # In a pipe: a line per change, no terminal codes
    assert lines.returncode == 0, lines.stderr
    assert "\x1b[" not in lines.stdout
    out = lines.stdout.splitlines()
    assert out[-1].startswith("1/1 "), out
    assert any(line.startswith(enrolled.agent_id) and "100%" in line
               and "đã lưu trên thiết bị thu" in line for line in out), out
    # For scripts: JSON lines, then the outcome
    assert scripted.returncode == 0, scripted.stderr
    records: list[dict[str, Any]] = [json.loads(line) for line in scripted.stdout.splitlines()]
    rows = [r for r in records if "agent_id" in r]
    assert [r["percent"] for r in rows] == sorted(r["percent"] for r in rows)
    assert rows[-1]["state"] == "cached" and rows[-1]["sha256"] == long["sha256"]
    assert records[-1] == {"agents": 1, "cached": 1, "done": True, "failed": 0, "pending": 0,
                           "timed_out": False}
    # The control: nobody needs the other item, so the watch gives up at its timeout.
    assert control.returncode == 1, control.stdout + control.stderr
    assert "Đã thôi chờ" in control.stdout and "0/0" in control.stdout
    assert took < 150
