"""End to end: the real daemon (``loaxa controller run`` with its embedded Mosquitto),
driven through the real CLI; an agent enrolled through the one-time-code flow, whose
side is a plain MQTT client with the agent's own credentials that checks every document
the way an agent does (``ControlInbox`` over the trust it got at enrolment) and announces
itself with a birth, as an agent does (a programme for an agent never heard from is a
conflict: nothing can be promised to it)."""

from __future__ import annotations

import json
import queue
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from agent.config import load as load_agent_config
from agent.state import TRUST_SETTING, AgentState
from protocols.acceptance import MemoryWatermarks
from protocols.clock import ManualClock
from protocols.codec import Rejected, encode
from protocols.inbox import ControlInbox, DocumentAccepted
from protocols.messages import PROTOCOL_VERSION, Birth, Emergency, Plan
from protocols.mqtt import new_client
from protocols.timefields import Stamp, TimeQuality
from protocols.topics import AgentChannel, agent_subscriptions, agent_topic
from protocols.trust import TrustStore
from tests.support.station_process import ROOT, Operator, running_station

pytestmark = pytest.mark.e2e
COMMUNE = "xa-demo"
MORNING, STORM = "a" * 64, "b" * 64
PASSWORD = "mật khẩu đủ dài"


# ---------------------------------------------------------------------------- helpers


def cli(operator: Operator, *args: str, stdin: str = "", token: str | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    words = [*(["--token", token] if token else []), *args]
    done = subprocess.run([sys.executable, "-m", "controller.cli.entry", "-c",
                           str(operator.config), *words], capture_output=True, text=True,
                          env=operator.env, cwd=ROOT, timeout=60, input=stdin)
    assert "Traceback" not in done.stderr, done.stderr
    if check:
        assert done.returncode == 0, done.stderr
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@dataclass
class EnrolledAgent:
    agent_id: str
    data_dir: Path

    def trust(self) -> TrustStore:
        state = AgentState(self.data_dir / "state.db")
        try:
            raw = state.setting(TRUST_SETTING)
        finally:
            state.close()
        assert raw is not None
        return TrustStore.from_bytes(raw)


def enrol(operator: Operator, cluster: str, data_dir: Path) -> EnrolledAgent:
    issued = operator.json("enrol", "issue", COMMUNE, "--cluster", cluster)
    words = shlex.split(issued["command"])
    done = subprocess.run([sys.executable, "-m", "agent", *words[2:], "--data-dir",
                           str(data_dir), "--json"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return EnrolledAgent(json.loads(done.stdout)["agent_id"], data_dir)


@dataclass
class AgentEar:
    """The agent's side of the control plane: its credentials, its subscriptions, its
    checks. Every message is kept, accepted or not."""

    agent: EnrolledAgent
    inbox: ControlInbox
    received: queue.Queue[tuple[str, bytes]] = field(default_factory=queue.Queue)
    accepted: list[DocumentAccepted] = field(default_factory=list)
    raw: list[tuple[str, bytes]] = field(default_factory=list)

    def drain(self) -> None:
        while True:
            try:
                topic, payload = self.received.get_nowait()
            except queue.Empty:
                return
            self.raw.append((topic, payload))
            result = self.inbox.receive(topic, payload)
            assert not isinstance(result, Rejected), result
            self.inbox.commit(result)
            if isinstance(result, DocumentAccepted):
                self.accepted.append(result)

    def plans(self) -> list[Plan]:
        self.drain()
        return [a.document for a in self.accepted if isinstance(a.document, Plan)]

    def emergencies(self) -> list[Emergency]:
        self.drain()
        return [a.document for a in self.accepted if isinstance(a.document, Emergency)]


@contextmanager
def listening(ear: AgentEar) -> Iterator[AgentEar]:
    settings = load_agent_config(ear.agent.data_dir / "agent.toml")
    client = new_client(f"ear-{ear.agent.agent_id}", settings.username,
                        settings.broker_password(),
                        (ear.agent.data_dir / "ca.pem").read_bytes())
    subscriptions = agent_subscriptions(COMMUNE, ear.agent.agent_id)

    def on_connect(c: mqtt.Client, *_args: Any) -> None:
        c.subscribe([(topic, 1) for topic in subscriptions])
        now = time.time_ns()
        birth = Birth(PROTOCOL_VERSION, ear.agent.agent_id, now, "ear", [], {},
                      bytes(16), Stamp(1, time.monotonic_ns(), now, TimeQuality.SYNCED))
        c.publish(agent_topic(COMMUNE, ear.agent.agent_id, AgentChannel.BIRTH),
                  encode(birth), qos=1, retain=True)

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.payload:
            ear.received.put((message.topic, bytes(message.payload)))

    client.on_connect = on_connect
    client.on_message = on_message
    client.reconnect_delay_set(0.2, 1)
    client.connect_async(settings.broker.host, settings.broker.port, keepalive=10)
    client.loop_start()
    try:
        yield ear
    finally:
        client.disconnect()
        client.loop_stop()


def ear_for(agent: EnrolledAgent) -> AgentEar:
    return AgentEar(agent, ControlInbox(COMMUNE, agent.agent_id, agent.trust(),
                                        MemoryWatermarks(), ManualClock()))


def add_library(data_dir: Path) -> None:
    """The library's rows (its import pipeline is tested on its own)."""
    with sqlite3.connect(data_dir / "loaxa.db") as conn:
        commune_id = conn.execute("SELECT id FROM admin_unit WHERE key = ?",
                                  (COMMUNE,)).fetchone()[0]
        for sha, title, duration in ((MORNING, "Bản tin sáng", 300_000),
                                     (STORM, "Tin bão", 120_000)):
            conn.execute(
                "INSERT INTO library_item (commune_id, sha256, title, source_name, "
                "source_format, imported_at, duration_ms, size_bytes, bitrate_bps, "
                "integrated_lufs, speech_lufs, true_peak_dbtp, chime) VALUES "
                "(?, ?, ?, '', '', '2026-01-01 00:00:00', ?, 1000, 32000, -16, -16, -1, 0)",
                (commune_id, sha, title, duration))


def commune_with_an_agent(operator: Operator, tmp_path: Path) -> EnrolledAgent:
    operator.json("units", "create", "thon-1", "--level", "village", "--name", "Thôn 1",
                  "--parent", COMMUNE)
    operator.json("stations", "create", COMMUNE, "st-1", "--name", "Đài", "--kind", "ip")
    operator.json("clusters", "create", COMMUNE, "c-1", "--name", "Cụm 1", "--kind", "ip",
                  "--station", "st-1", "--village", "thon-1")
    add_library(tmp_path / "data")
    return enrol(operator, "c-1", tmp_path / "agent-1")


def user_token(operator: Operator, username: str, role: str, *extra: str) -> str:
    cli(operator, "users", "create", username, "--password-stdin", "--json",
        stdin=PASSWORD + "\n")
    cli(operator, "users", "grant", username, "--unit", COMMUNE, "--role", role, *extra,
        "--json")
    return str(as_json(cli(operator, "login", "-u", username, "--password-stdin", "--json",
                           stdin=PASSWORD + "\n"))["token"])


def start_daemon(operator: Operator, log: Path) -> subprocess.Popen[str]:
    handle = log.open("a")
    daemon = subprocess.Popen([sys.executable, "-m", "controller.cli.entry", "controller",
                               "run", "-c", str(operator.config)], stdout=handle,
                              stderr=subprocess.STDOUT, text=True, env=operator.env, cwd=ROOT)
    handle.close()
    wait_for(lambda: operator.run("whoami", check=False).returncode == 0, 60,
             "the controller to come back")
    return daemon


# ---------------------------------------------------------------------------- tests


def test_only_approved_programmes_reach_the_agent_and_survive_a_restart(
        tmp_path: Path) -> None:
    with running_station(tmp_path) as (operator, daemon, log):
        agent = commune_with_an_agent(operator, tmp_path)
        approver = user_token(operator, "duyet", "approver")
        ear = ear_for(agent)
        with listening(ear):
            first = wait_for(lambda: ear.plans(), 60, "the agent's first plan")[-1]
            assert first.agent_id == agent.agent_id and first.slots == []
            # a draft: the operator programmes it, nobody approves it
            operator.json("schedule", "add", "--id", "nhap", "--title", "Nháp", "--item",
                          STORM, "--daily", "--at", "07:00")
            time.sleep(5)  # longer than the planner's debounce and its round
            operator.json("schedule", "add", "--id", "sang", "--title", "Tin sáng",
                          "--item", "Bản tin sáng", "--daily", "--at", "05:00")
            approved = as_json(cli(operator, "schedule", "approve", "sang", "--json",
                                   token=approver))
            assert approved["approved_by"] == "duyet"
            plan = wait_for(lambda: [p for p in ear.plans()
                                     if {s.programme for s in p.slots} == {"sang"}],
                            60, "a plan with the approved programme")[-1]
            assert len(plan.slots) in (7, 8)  # 8 while today's airing is on the air
            assert plan.routine[0].programme == "sang"
            for seen in ear.plans():  # whatever arrived, the draft never did
                assert "nhap" not in {s.programme for s in seen.slots} | {
                    r.programme for r in seen.routine}
                assert bytes.fromhex(STORM) not in {s.content for s in seen.slots}
            # a plan altered in transit is refused by the agent's checks
            topic, payload = [(t, p) for t, p in ear.raw if t.endswith("/doc/plan")][-1]
            fresh = ControlInbox(COMMUNE, agent.agent_id, agent.trust(), MemoryWatermarks(),
                                 ManualClock())
            tampered = fresh.receive(topic, payload[:-1] + bytes([payload[-1] ^ 0x20]))
            assert isinstance(tampered, Rejected) and tampered.reason.value == "bad_signature"
            assert isinstance(fresh.receive(topic, payload), DocumentAccepted)
            shown = operator.json("schedule", "plan", agent.agent_id)
            assert shown["version"].endswith(f".{plan.version}")
            assert len(shown["slots"]) == len(plan.slots)

        daemon.terminate()
        assert daemon.wait(60) == 0
        daemon = start_daemon(operator, log)
        try:
            listed = {p["key"]: p["status"] for p in operator.json("schedule", "list")}
            assert listed == {"nhap": "draft", "sang": "approved"}
            ear = ear_for(agent)
            with listening(ear):
                retained = wait_for(lambda: ear.plans(), 60, "the retained plan")[-1]
                assert retained.version == plan.version  # still the one from before
                operator.json("schedule", "add", "--id", "toi", "--title", "Tin tối",
                              "--item", "Tin bão", "--daily", "--at", "18:00")
                cli(operator, "schedule", "approve", "toi", "--json", token=approver)
                after = wait_for(lambda: [p for p in ear.plans() if p.version > plan.version],
                                 60, "the next plan")[-1]
                # the next version continues, and nothing was republished at the restart
                assert after.version == plan.version + 1
                assert {s.programme for s in after.slots} == {"sang", "toi"}
        finally:
            daemon.terminate()
            daemon.wait(30)
        assert "Traceback" not in log.read_text()


def test_an_agent_that_reconnects_mid_emergency_joins_in(tmp_path: Path) -> None:
    with running_station(tmp_path) as (operator, _daemon, log):
        agent = commune_with_an_agent(operator, tmp_path)
        holder = user_token(operator, "truc-ban", "operator", "--emergency")
        approver = user_token(operator, "duyet", "approver")
        ear = ear_for(agent)
        with listening(ear):
            wait_for(lambda: ear.plans(), 60, "the agent's first plan")
            assert ear.emergencies() == []
        # the agent is away when the emergency starts
        started = as_json(cli(operator, "broadcast", "emergency", "start", "--title",
                              "Tin bão", "--all", "--repeat-every", "5", "--json",
                              token=holder))
        assert started["document_version"] is not None
        with listening(ear):  # ... and comes back halfway through
            emergency = wait_for(lambda: ear.emergencies(), 60, "the retained emergency")[-1]
            assert (emergency.emergency_id, emergency.active, emergency.content.hex(),
                    emergency.villages, emergency.repeat_every_s) == (
                started["id"], True, STORM, [], 300)
            cli(operator, "broadcast", "emergency", "stop", "--json", token=holder)
            stop = wait_for(lambda: [e for e in ear.emergencies() if not e.active], 60,
                            "the stop")[-1]
            assert stop.emergency_id == started["id"] and stop.version > emergency.version
        waiting = as_json(cli(operator, "broadcast", "emergency", "list",
                              "--unacknowledged", "--json", token=approver))
        assert [e["id"] for e in waiting] == [started["id"]]
        cli(operator, "broadcast", "emergency", "ack", started["id"], "--json",
            token=approver)
        assert as_json(cli(operator, "broadcast", "emergency", "list", "--unacknowledged",
                           "--json", token=approver)) == []
        assert "Traceback" not in log.read_text()
