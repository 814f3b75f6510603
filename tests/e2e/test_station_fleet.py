"""A real station with real agents: enrolled through the one-time-code flow with the
agent's own CLI, running as services, seen online through the operator API, their
journals ingested exactly once, and seen offline when they stop."""

from __future__ import annotations

import json
import shlex
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.agent_process import FAST, AgentProcess, ProvisionedAgent
from tests.support.station_process import ROOT, Operator, running_station

pytestmark = pytest.mark.e2e


def enrol(operator: Operator, cluster: str, data_dir: Path) -> ProvisionedAgent:
    issued = operator.json("enrol", "issue", "xa-demo", "--cluster", cluster)
    words = shlex.split(issued["command"])
    assert words[:3] == ["loaxa", "agent", "enroll"]
    done = subprocess.run([sys.executable, "-m", "agent", *words[2:], "--data-dir",
                           str(data_dir), "--json"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    granted = json.loads(done.stdout)
    return ProvisionedAgent(granted["agent_id"], "xa-demo", data_dir, data_dir / "agent.toml")


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_enrolled_agents_report_to_the_station(tmp_path: Path) -> None:
    with running_station(tmp_path) as (operator, _daemon, log):
        operator.json("units", "create", "thon-1", "--level", "village", "--name", "Thôn 1",
                      "--parent", "xa-demo")
        operator.json("stations", "create", "xa-demo", "st-1", "--name", "Đài", "--kind", "ip")
        agents = []
        for n in (1, 2):
            operator.json("clusters", "create", "xa-demo", f"c-{n}", "--name", f"Cụm {n}",
                          "--kind", "ip", "--station", "st-1", "--village", "thon-1")
            agents.append(enrol(operator, f"c-{n}", tmp_path / f"agent-{n}"))
        processes = [AgentProcess(agent, settings={**FAST, "clock__trust": "always"}).start()
                     for agent in agents]
        try:
            def connectivity() -> set[str]:
                listed = operator.json("agents", "list")
                rows = listed["agents"] if isinstance(listed, dict) else listed
                return {row["live"]["connectivity"] for row in rows}

            wait_for(lambda: connectivity() == {"online"}, 30, "agents online:\n"
                     + log.read_text()[-2000:])
            database = tmp_path / "data" / "loaxa.db"

            def stored() -> int:
                with sqlite3.connect(database) as conn:
                    return int(conn.execute("SELECT count(*) FROM journal_record").fetchone()[0])

            wait_for(lambda: stored() >= 6, 30, "journal records at the station")
            for process in processes:
                assert process.terminate() == 0
            wait_for(lambda: connectivity() == {"offline"}, 30, "agents offline")
            # What each agent journalled and the station stored agree exactly: every record
            # the station acknowledged is there, once, and nothing else is. (Records of the
            # last moments may still be unacknowledged on the agent: its stop-time flush is
            # best effort, and they go out at its next start.)
            for agent in agents:
                with sqlite3.connect(agent.journal_path) as conn:
                    journalled = dict(conn.execute("SELECT seq, acked FROM records"))
                with sqlite3.connect(database) as conn:
                    at_station = [seq for (seq,) in conn.execute(
                        "SELECT seq FROM journal_record WHERE agent_id = ?", (agent.agent_id,))]
                assert len(at_station) == len(set(at_station))
                assert set(at_station) <= set(journalled)
                assert {seq for seq, acked in journalled.items() if acked} <= set(at_station)
                assert len(at_station) >= len(journalled) - 3
        finally:
            for process in processes:
                process.kill9()
        assert "Traceback" not in log.read_text()
