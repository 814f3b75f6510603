"""High-water marks, trust and documents survive a restart of the agent."""

from __future__ import annotations

import stat
from pathlib import Path

from agent.identity import load_or_create_identity
from agent.state import AgentState
from protocols.acceptance import command_mark_name
from protocols.clock import ManualClock
from protocols.codec import Reason, Rejected
from protocols.inbox import CommandAccepted, ControlInbox
from protocols.messages import DocVersion
from protocols.trust import TrustStore
from tests.protocols import samples


def test_marks_survive_reopening(tmp_path: Path) -> None:
    state = AgentState(tmp_path / "state.db")
    state.put("cmd:ag-0001", DocVersion(2, 41))
    state.close()
    again = AgentState(tmp_path / "state.db")
    assert again.get("cmd:ag-0001") == DocVersion(2, 41)
    assert again.get("doc:plan") is None


def test_a_command_is_not_replayed_after_an_agent_restart(tmp_path: Path) -> None:
    clock = ManualClock(wall_ns=samples.T0 + 1)
    sealed = samples.sealed_command(samples.COMMANDS["reboot"])

    def inbox() -> ControlInbox:
        return ControlInbox(samples.COMMUNE, samples.AGENT, TrustStore.from_bundle(samples.TRUST),
                            AgentState(tmp_path / "state.db"), clock)

    assert isinstance(inbox().receive(*sealed), CommandAccepted)
    # The agent rebooted as told; the broker redelivers the same command afterwards.
    result = inbox().receive(*sealed)
    assert isinstance(result, Rejected) and result.reason is Reason.REPLAYED
    assert AgentState(tmp_path / "state.db").get(command_mark_name(samples.AGENT)) == \
        DocVersion(1, 5)


def test_documents_and_counters_persist(tmp_path: Path) -> None:
    state = AgentState(tmp_path / "state.db")
    state.save_document("plan", DocVersion(1, 3), b"\x01\x02")
    assert [state.next_counter("session") for _ in range(3)] == [1, 2, 3]
    state.set_setting("trust", TrustStore.from_bundle(samples.TRUST).to_bytes())
    state.close()
    again = AgentState(tmp_path / "state.db")
    assert again.document("plan") == (DocVersion(1, 3), b"\x01\x02")
    assert again.next_counter("session") == 4
    trust = TrustStore.from_bytes(again.setting("trust") or b"")
    assert not isinstance(trust.lookup(samples.IDENTITY.key_id), Reason)


def test_identity_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "agent.key"
    first = load_or_create_identity(path)
    second = load_or_create_identity(path)
    assert first == second and len(first.public_key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
