"""Through the real station (``loaxa controller run``, embedded Mosquitto, the CLI, real
agents and the agent's own fetcher): when an item can reach an agent is known when
programming, and the content service works by the plans' air times (issue 6 items 2
and 4).

* Programming a large item too soon for the station's egress cap, or for an agent that is
  offline, is refused with "cannot reach <agent> in time" (the offline one with its last
  seen); the same item far enough ahead, for the online agent, is accepted.
* Agents that claim the wrong air times (or none) are served in the order of the plans,
  and the "late" alert fires from a plan's air time.

The station's cap is 256 kbit/s (32 kB/s) and it sends one transfer at a time, so that
the arithmetic and the order are visible in seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import zmq.utils.z85

from agent.cache import Cache
from agent.fetcher import Fetcher
from agent.identity import load_or_create_identity
from protocols.content import NO_DEADLINE_NS
from tests.content.support import FAST as FAST_FETCH
from tests.content.support import air_in
from tests.libraryops.station import EventTap
from tests.support.agent_process import AgentProcess, ProvisionedAgent
from tests.support.station_process import ROOT, Operator, running_station

from .test_e2e import COMMUNE, EnrolledAgent, as_json, cli, enrol, user_token, wait_for

pytestmark = pytest.mark.e2e
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
RATE = 256 * 1000 // 8  # the station's egress cap, bytes per second
BIG = 40_000_000  # 1250 s at the cap


@dataclass
class Running:
    operator: Operator
    root: Path
    log: Path

    @property
    def data(self) -> Path:
        return self.root / "data"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("readiness")
    with running_station(root, daemon_env={"LOAXA_DATAPLANE__EGRESS_KBPS": "256",
                                           "LOAXA_DATAPLANE__MAX_TRANSFERS": "1"}) as (
            operator, _daemon, log):
        operator.json("stations", "create", COMMUNE, "st-1", "--name", "Đài", "--kind", "ip")
        yield Running(operator, root, log)
        assert "Traceback" not in log.read_text()


def village(running: Running, n: int) -> str:
    op = running.operator
    op.json("units", "create", f"thon-{n}", "--level", "village", "--name", f"Thôn {n}",
            "--parent", COMMUNE)
    op.json("clusters", "create", COMMUNE, f"c-{n}", "--name", f"Cụm {n}", "--kind", "ip",
            "--station", "st-1", "--village", f"thon-{n}")
    return f"c-{n}"


def library_row(running: Running, sha: str, title: str, size: int) -> None:
    """The library's row (its import pipeline is tested on its own)."""
    with sqlite3.connect(running.data / "loaxa.db", timeout=30) as conn:
        commune_id = conn.execute("SELECT id FROM admin_unit WHERE key = ?",
                                  (COMMUNE,)).fetchone()[0]
        conn.execute(
            "INSERT INTO library_item (commune_id, sha256, title, source_name, "
            "source_format, imported_at, duration_ms, size_bytes, bitrate_bps, "
            "integrated_lufs, speech_lufs, true_peak_dbtp, chime) VALUES "
            "(?, ?, ?, '', '', '2026-01-01 00:00:00', 60000, ?, 32000, -16, -16, -1, 0)",
            (commune_id, sha, title, size))


def stored_item(running: Running, title: str, size: int, seed: int) -> bytes:
    """An item in the content store, as an import leaves it."""
    data = hashlib.shake_256(seed.to_bytes(4, "big")).digest(size)
    sha = hashlib.sha256(data).hexdigest()
    path = running.data / "content" / sha[:2] / f"{sha}.opus"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    library_row(running, sha, title, size)
    return bytes.fromhex(sha)


def connectivity(running: Running, agent_id: str) -> dict[str, Any]:
    rows = running.operator.json("agents", "list")
    live: dict[str, Any] = next(r["live"] for r in rows if r["id"] == agent_id)
    return live


def at(seconds: float) -> tuple[dt.datetime, list[str]]:
    """A local instant ``seconds`` ahead, whole seconds, and the CLI options for it."""
    moment = dt.datetime.fromtimestamp(time.time() + seconds, ZONE).replace(microsecond=0)
    return moment, ["--once", moment.date().isoformat(), "--at",
                    moment.time().isoformat()]


def run_agent(agent: EnrolledAgent) -> AgentProcess:
    process = AgentProcess(ProvisionedAgent(agent.agent_id, COMMUNE, agent.data_dir,
                                            agent.data_dir / "agent.toml"))
    return process.start()


def test_too_soon_or_offline_is_a_conflict_and_far_enough_ahead_is_not(
        running: Running) -> None:
    op = running.operator
    online = enrol(op, village(running, 1), running.root / "agent-1")
    away = enrol(op, village(running, 2), running.root / "agent-2")
    big = hashlib.sha256(b"a long recording").hexdigest()
    library_row(running, big, "Bản ghi dài", BIG)
    agents = [run_agent(online), run_agent(away)]
    try:
        wait_for(lambda: all(connectivity(running, a.agent_id)["connectivity"] == "online"
                             for a in (online, away)), 90, "both agents online")
        assert agents[1].terminate() == 0
        wait_for(lambda: connectivity(running, away.agent_id)["connectivity"] == "offline",
                 60, "the stopped agent to be offline")
        last_seen = dt.datetime.fromisoformat(connectivity(running, away.agent_id)["last_seen"])

        # Too soon: five minutes ahead, for a recording that takes 21 at the cap.
        _, soon = at(300)
        words = ["--title", "Bản ghi dài", "--item", big, *soon, "--villages",
                 "thon-1,thon-2"]
        checked_at = time.time()
        checked = op.json("schedule", "check", *words)
        assert not checked["ok"]
        late = {c["agents"][0]: c for c in checked["conflicts"]}
        assert set(late) == {online.agent_id, away.agent_id}
        assert {c["kind"] for c in late.values()} == {"not_cached_in_time"}
        ready = dt.datetime.fromisoformat(late[online.agent_id]["ready_at"]).timestamp()
        assert 0.9 * BIG / RATE < ready - checked_at < 1.1 * BIG / RATE + 30
        assert late[online.agent_id]["offline"] is False
        assert late[online.agent_id]["message"].startswith(
            f"Không thể đưa kịp đến {online.agent_id}: bản tin {big[:12]} chỉ đến được lúc")
        gone = late[away.agent_id]
        assert (gone["offline"], gone["ready_at"]) == (True, None)
        assert dt.datetime.fromisoformat(gone["last_seen"]) == last_seen
        assert "liên lạc lần cuối " + last_seen.astimezone(ZONE).strftime(
            "%Y-%m-%d %H:%M:%S") in gone["message"]

        # Programming it is refused (409) with the same conflicts, and stores nothing.
        refused = subprocess.run(
            [sys.executable, "-m", "controller.cli.entry", "-c", str(op.config), "schedule",
             "add", "--id", "dai", *words], capture_output=True, text=True, cwd=ROOT,
            env={**op.env, "LOAXA_LANG": "en"}, timeout=60)
        assert refused.returncode == 5, refused.stderr
        assert f"Cannot reach {online.agent_id} in time: item {big[:12]} would only be " \
               "there at " in refused.stderr
        assert f"Cannot reach {away.agent_id} in time: it is offline (last seen " \
               in refused.stderr
        assert "--resolve override" in refused.stderr
        assert "dai" not in {p["key"] for p in op.json("schedule", "list")}

        # Positive control: the same recording two hours ahead, for the online agent.
        _, later = at(7200)
        fine = op.json("schedule", "check", "--title", "Bản ghi dài", "--item", big, *later,
                       "--villages", "thon-1")
        assert fine["ok"] and fine["conflicts"] == [], fine
        added = op.json("schedule", "add", "--id", "dai-sau", "--title", "Bản ghi dài",
                        "--item", big, *later, "--villages", "thon-1")
        assert added["key"] == "dai-sau" and added["conflicts"] == []
        # ... and the refused one, accepted knowingly, keeps its conflicts on record
        accepted = op.json("schedule", "add", "--id", "dai", *words, "--resolve", "append")
        assert {c["agents"][0] for c in accepted["conflicts"]} == {online.agent_id,
                                                                  away.agent_id}
    finally:
        for process in agents:
            if process.alive:
                process.terminate()


@dataclass
class Fetching:
    agent: EnrolledAgent
    endpoint: str
    server_key: bytes

    @classmethod
    def of(cls, agent: EnrolledAgent) -> Fetching:
        plane = tomllib.loads((agent.data_dir / "agent.toml").read_text())["data_plane"]
        return cls(agent, plane["endpoint"], zmq.utils.z85.decode(plane["server_key"]))

    def fetcher(self, cache: Cache) -> Fetcher:
        identity = load_or_create_identity(self.agent.data_dir / "agent.key")
        return Fetcher(self.endpoint, self.server_key, identity, cache, config=FAST_FETCH)


def programme(running: Running, approver: str, key: str, sha: bytes, when: list[str],
              agent: EnrolledAgent) -> dt.datetime:
    """Programmed for the agent's village and approved (accepted knowingly: these agents
    never connect to the broker, so nothing can be promised to them); the start of its
    slot in the plan published to the agent."""
    op = running.operator
    village_key = "thon-" + agent.data_dir.name.rsplit("-", 1)[1]
    op.json("schedule", "add", "--id", key, "--title", key, "--item", sha.hex(), *when,
            "--villages", village_key, "--resolve", "append")
    as_json(cli(op, "schedule", "approve", key, "--json", token=approver))

    def published() -> list[dict[str, Any]]:
        plan = op.json("schedule", "plan", agent.agent_id)
        return [s for s in plan["slots"] if s["programme"] == key]

    slots = wait_for(published, 60, f"a plan with {key}")
    return dt.datetime.fromisoformat(slots[0]["start"])


def transfers(running: Running) -> dict[tuple[str, str], dict[str, Any]]:
    report = running.operator.json("library", "transfers")
    return {(t["agent_id"], t["sha256"]): t for t in report["transfers"]}


def test_transfers_follow_the_plans_air_times_and_the_late_alert_fires(
        running: Running, tmp_path: Path) -> None:
    op = running.operator
    first = enrol(op, village(running, 3), running.root / "agent-3")
    second = enrol(op, village(running, 4), running.root / "agent-4")
    approver = user_token(op, "duyet", "approver")
    later_item = stored_item(running, "Tiêm phòng", 320_000, seed=1)
    sooner_item = stored_item(running, "Tin chiều", 320_000, seed=2)
    _, in_three_days = at(3 * 86_400)
    _, in_ten_minutes = at(600)
    later_start = programme(running, approver, "tiem-phong", later_item, in_three_days,
                            first)
    sooner_start = programme(running, approver, "tin-chieu", sooner_item, in_ten_minutes,
                             second)
    cache_1 = Cache(tmp_path / "cache-3", 50_000_000)
    cache_2 = Cache(tmp_path / "cache-4", 50_000_000)
    done: dict[bytes, float] = {}

    with EventTap(running.data / "api.sock") as tap, \
            Fetching.of(first).fetcher(cache_1) as one, \
            Fetching.of(second).fetcher(cache_2) as two:
        # The first agent says its item airs in a minute; the plan says three days.
        one.want({later_item: air_in(60)})
        wait_for(lambda: transfers(running).get((first.agent_id, later_item.hex()), {})
                 .get("state") == "sending", 30, "the first transfer")
        shown = transfers(running)[(first.agent_id, later_item.hex())]
        assert dt.datetime.fromisoformat(shown["need_by"]) == later_start
        # The second gives no air time at all; its plan says ten minutes: it goes first.
        two.want({sooner_item: NO_DEADLINE_NS})

        def swapped() -> bool:
            now = transfers(running)
            return now.get((second.agent_id, sooner_item.hex()), {}).get("state") == \
                "sending" and now.get((first.agent_id, later_item.hex()), {}).get(
                    "state") == "queued"

        wait_for(swapped, 30, "the sooner item to take the only slot")
        shown = transfers(running)[(second.agent_id, sooner_item.hex())]
        assert dt.datetime.fromisoformat(shown["need_by"]) == sooner_start

        def finished() -> bool:
            for sha, cache in ((later_item, cache_1), (sooner_item, cache_2)):
                if sha not in done and cache.has(sha):
                    done[sha] = time.monotonic()
            return len(done) == 2

        wait_for(finished, 90, "both items cached")
        assert done[sooner_item] < done[later_item]

        # An item a plan airs in a minute, too big for the cap by then; the agent gives
        # no air time: the operator is alerted from the plan's.
        urgent = stored_item(running, "Tin khẩn", 4_000_000, seed=3)
        _, in_a_minute = at(60)
        programme(running, approver, "tin-khan", urgent, in_a_minute, first)
        one.want({urgent: NO_DEADLINE_NS})
        alert = tap.wait_for(lambda e: e["kind"] == "content_late", timeout_s=60)
        assert [(e["agent_id"], e["sha256"]) for e in alert] == [(first.agent_id,
                                                                  urgent.hex())]
    # control: the items with time to spare were never reported late
    assert not [e for e in tap.events if e["kind"] == "content_late"
                and e["sha256"] != urgent.hex()]
