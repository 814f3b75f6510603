"""``POST /v1/agents/{id}/commands``: a signed command to one enrolled agent, allowed by
role (volume/stop for operators and technicians, restart/reboot for technicians only),
audited, and refused cleanly without a fleet link; and what the device pane reads:
``/journal`` and ``/telemetry``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx
import pytest

from controller.storage.tables.fleet import AgentPresence, JournalRecord
from controller.storage.tables.registry import Agent, AgentStatus
from protocols.codec import encode
from protocols.messages import (
    Action,
    DocVersion,
    Event,
    IntervalExtend,
    Reboot,
    SetVolume,
    StopPlayback,
)
from protocols.messages import Evidence as EvidenceLevel
from protocols.timefields import Stamp, TimeQuality
from tests.station.kit import SYSTEM, Kit, map_unix_user

WALL = 1_767_240_000_000_000_000  # 2026-01-01 04:00 UTC


@dataclass
class RecordingSender:
    """Stands in for the fleet publisher: remembers what it was asked to send."""

    commune: str
    sent: list[tuple[str, Action]] = field(default_factory=list)

    def send_command(self, agent_id: str, action: Action, ttl_s: int = 900) -> DocVersion:
        self.sent.append((agent_id, action))
        return DocVersion(1, len(self.sent))


def active_agent(kit: Kit, commune: str, agent_id: str, cluster: str) -> None:
    kit.services.agents.create(SYSTEM, commune, agent_id, cluster=cluster)
    with kit.db.transaction() as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        agent.status = AgentStatus.ACTIVE
        session.add(agent)


@pytest.fixture
def sender(kit: Kit) -> RecordingSender:
    active_agent(kit, "xa-a", "ag-a1", "c-thon-a1")
    active_agent(kit, "xa-b", "ag-b1", "c-thon-b1")
    recording = RecordingSender("xa-a")
    kit.services.commands.plug(recording)
    return recording


def audit_actions(kit: Kit) -> list[tuple[str, str, dict[str, object]]]:
    with kit.db.session() as session:
        from sqlmodel import select

        from controller.storage.tables.audit import AuditEntry

        rows = session.exec(select(AuditEntry).where(AuditEntry.action == "agent.command"))
        return [(r.username, r.target, json.loads(r.detail)) for r in rows]


def test_a_technician_sets_the_volume_and_it_is_audited(local: httpx.Client, kit: Kit,
                                                         sender: RecordingSender) -> None:
    map_unix_user(kit, "root", "tech-a")
    response = local.post("/v1/agents/ag-a1/commands", json={"action": "volume", "level": 60})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["agent_id"] == "ag-a1" and body["action"] == "volume" and body["level"] == 60
    assert (body["epoch"], body["counter"]) == (1, 1)
    assert sender.sent == [("ag-a1", SetVolume(60))]
    [(username, target, detail)] = audit_actions(kit)
    assert (username, target) == ("tech-a", "ag-a1")
    assert detail["action"] == "volume" and detail["level"] == 60 and detail["counter"] == "1.1"
    assert local.post("/v1/agents/ag-a1/commands",
                      json={"action": "reboot"}).status_code == 202
    assert sender.sent[-1] == ("ag-a1", Reboot())


def test_without_a_role_nothing_is_sent_nor_audited(local: httpx.Client, kit: Kit,
                                                   sender: RecordingSender) -> None:
    map_unix_user(kit, "root", None)  # not a loaxa user at all
    refused = local.post("/v1/agents/ag-a1/commands", json={"action": "stop"})
    assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"
    map_unix_user(kit, "root", "viewer-a")  # may read the commune, not command in it
    refused = local.post("/v1/agents/ag-a1/commands", json={"action": "volume", "level": 10})
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert "quyền" in refused.json()["message"]
    map_unix_user(kit, "root", "tech-a")  # another commune's agent is not even confirmed
    assert local.post("/v1/agents/ag-b1/commands",
                      json={"action": "stop"}).status_code == 404
    assert sender.sent == [] and audit_actions(kit) == []


def test_an_operator_may_set_volume_and_stop_but_not_reboot(local: httpx.Client, kit: Kit,
                                                           sender: RecordingSender) -> None:
    kit.services.commands.plug(RecordingSender("xa-b"))
    map_unix_user(kit, "root", "op-b")
    assert local.post("/v1/agents/ag-b1/commands",
                      json={"action": "stop"}).status_code == 202
    for action in ("reboot", "restart"):
        refused = local.post("/v1/agents/ag-b1/commands", json={"action": action})
        assert refused.status_code == 403, refused.text
    assert [a[0] for a in audit_actions(kit)] == ["op-b"]
    plugged = kit.services.commands.sender
    assert isinstance(plugged, RecordingSender) and plugged.sent == [("ag-b1", StopPlayback())]


def test_bad_commands_are_refused_before_sending(local: httpx.Client, kit: Kit,
                                                 sender: RecordingSender) -> None:
    map_unix_user(kit, "root", "tech-a")
    for body in ({"action": "volume"}, {"action": "volume", "level": 101},
                 {"action": "stop", "level": 5}, {"action": "selfdestruct"}):
        response = local.post("/v1/agents/ag-a1/commands", json=body)
        assert response.status_code == 422, (body, response.text)
    kit.services.agents.create(SYSTEM, "xa-a", "ag-new")  # registered, not enrolled
    pending = local.post("/v1/agents/ag-new/commands", json={"action": "stop"})
    assert pending.status_code == 409 and pending.json()["code"] == "conflict"
    kit.services.commands.plug(None)
    unavailable = local.post("/v1/agents/ag-a1/commands", json={"action": "stop"})
    assert unavailable.status_code == 503 and unavailable.json()["code"] == "unavailable"
    assert sender.sent == [] and audit_actions(kit) == []


def stamp(offset_s: int) -> Stamp:
    return Stamp(boot=1, mono_ns=offset_s * 10**9, wall_ns=WALL + offset_s * 10**9,
                 quality=TimeQuality.SYNCED)


def test_the_journal_and_telemetry_of_an_agent(local: httpx.Client, kit: Kit,
                                               sender: RecordingSender) -> None:
    records = [Event(stamp(0), "cmd-volume", "60"),
               IntervalExtend(stamp(60), 1, EvidenceLevel.SINK),
               Event(stamp(120), "sink-error", "ALSA underrun")]
    with kit.db.transaction() as session:
        from sqlmodel import select

        from controller.storage.tables.registry import AdminUnit

        unit_id = session.exec(select(AdminUnit.id).where(AdminUnit.key == "xa-a")).one()
        for seq, record in enumerate(records, start=1):
            session.add(JournalRecord(
                agent_id="ag-a1", journal_id="ab" * 16, seq=seq, commune_id=unit_id,
                kind=type(record).__struct_config__.tag, boot=1,
                mono_ns=record.stamp.mono_ns, wall_ns=record.stamp.wall_ns,
                quality=int(record.stamp.quality), body=encode(record)))
        session.add(AgentPresence(agent_id="ag-a1", commune_id=unit_id, online=True,
                                  heartbeat=json.dumps({"volume": 60, "uptime_s": 300})))
    map_unix_user(kit, "root", "viewer-a")
    journal = local.get("/v1/agents/ag-a1/journal").json()
    assert [(r["kind"], r["code"], r["detail"]) for r in journal] == [
        ("event", "sink-error", "ALSA underrun"), ("event", "cmd-volume", "60")]
    assert journal[0]["time_trusted"] is True
    assert journal[0]["at"].startswith("2026-01-01T04:02:00")
    everything = local.get("/v1/agents/ag-a1/journal", params={"extends": "true"}).json()
    assert [r["kind"] for r in everything] == ["event", "interval_extend", "event"]
    telemetry = local.get("/v1/agents/ag-a1/telemetry").json()
    assert telemetry["online"] is True and telemetry["heartbeat"]["volume"] == 60
    assert local.get("/v1/agents/ag-b1/journal").status_code == 404
