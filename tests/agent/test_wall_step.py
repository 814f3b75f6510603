"""A wall-clock step on the agent neither creates nor deletes availability (principle 3).

Availability is computed from journal records by monotonic time plus anchors
(``tests/support/availability.py``). Each test has its positive control: the same
records read naively by their wall clocks would gain or lose exactly the step.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from agent.journal import Journal
from agent.playout_api import NullPlayout
from agent.service import AgentService
from protocols.clock import ManualClock, SkewedClock
from protocols.envelope import Signer
from protocols.keys import SigningIdentity
from protocols.messages import CloseReason, Evidence, JournalRecord
from protocols.sdnotify import Notifier
from protocols.timefields import TimeQuality
from tests.support.agent_process import provision, settings_for
from tests.support.availability import available_ns, naive_wall_ns, spans
from tests.support.broker import RunningBroker
from tests.support.fleet_double import FleetDouble

S = 10**9
MINUTE = 60 * S
T0 = 1_795_000_000 * S


def run_journal(tmp_path: Path, steps: dict[int, int], *, trusted_from: int = 0,
                minutes: int = 30) -> dict[int, JournalRecord]:
    """An agent's availability journal for ``minutes``, with wall steps at given minutes."""
    boot = tmp_path / "boot_id"
    boot.write_text(str(uuid.uuid4()))
    clock = ManualClock(wall_ns=T0, quality=TimeQuality.UNSYNCED if trusted_from else
                        TimeQuality.SYNCED)
    journal = Journal(tmp_path / f"j-{len(steps)}-{trusted_from}.db", clock, boot_id_path=boot)
    journal.observe_clock()
    journal.open(Evidence.SINK)
    for minute in range(1, minutes + 1):
        clock.advance(MINUTE)
        if minute == trusted_from:
            clock.set_quality(TimeQuality.SYNCED)
        if minute in steps:
            clock.step_wall(steps[minute])
        journal.observe_clock()
        if minute % 5 == 0:
            journal.extend()
    journal.close(CloseReason.STOPPED)
    return {seq: record for seq, record, _ in journal.entries()}


@pytest.mark.parametrize("steps", [{10: 3600 * S}, {10: -3600 * S},
                                   {7: 2 * 3600 * S, 20: -5 * 3600 * S}])
def test_a_wall_step_neither_creates_nor_deletes_availability(tmp_path: Path,
                                                              steps: dict[int, int]) -> None:
    reference = run_journal(tmp_path, {})
    stepped = run_journal(tmp_path, steps)
    assert available_ns(spans(reference)) == 30 * MINUTE
    assert available_ns(spans(stepped)) == 30 * MINUTE
    # Positive control: the steps were real and a wall-clock reading would count them.
    assert naive_wall_ns(stepped) == 30 * MINUTE + sum(steps.values())
    assert naive_wall_ns(reference) == 30 * MINUTE


def test_spans_before_trust_are_unanchored_until_an_anchor_of_their_boot(
        tmp_path: Path) -> None:
    """A Pi boots with a wrong clock; chrony syncs (and steps) at minute 12."""
    records = run_journal(tmp_path, {12: 24 * 3600 * S}, trusted_from=12)
    found = spans(records)
    assert len(found) == 1 and found[0].start_wall is not None
    assert available_ns(found) == 30 * MINUTE  # re-anchored by monotonic difference
    # The span is placed by the trusted anchor: it started 12 minutes before it.
    assert found[0].start_wall == T0 + 24 * 3600 * S
    without_anchor = {s: r for s, r in records.items() if type(r).__name__ != "Anchor"}
    assert available_ns(spans(without_anchor)) == 0  # unanchored time counts as down
    assert spans(without_anchor)[0].start_wall is None


@pytest.mark.e2e
def test_wall_steps_under_a_running_agent_keep_availability(tmp_path: Path,
                                                            broker: RunningBroker) -> None:
    """The real service, in-process, on a SkewedClock; records reach the fleet double."""
    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-step", "ag-step", identity)
    clock = SkewedClock(quality=TimeQuality.SYNCED)
    settings = settings_for(agent, journal__extend_s="0.3", clock__step_threshold_ms="200")
    with FleetDouble(broker, "xa-step", Signer(identity, 1)) as double:
        service = AgentService(settings, clock=clock, playout=NullPlayout(),
                               notifier=Notifier({}))
        thread = threading.Thread(target=service.run, daemon=True)
        started = time.monotonic()
        thread.start()
        assert double.wait_for(lambda: len(double.heartbeats) >= 1, 15)
        time.sleep(1.0)
        clock.step_wall(3 * 3600 * S)  # forward three hours
        time.sleep(1.0)
        clock.step_wall(-5 * 3600 * S)  # back five hours
        time.sleep(1.0)
        service.request_stop()
        thread.join(15)
        elapsed = time.monotonic() - started
        assert not thread.is_alive()
        (journal_id,) = double.journal_ids("ag-step")
        assert double.wait_for(lambda: double.missing("ag-step", journal_id) == [] and any(
            type(r).__name__ == "IntervalClose"
            for r in double.records("ag-step", journal_id).values()), 10)
    records = double.records("ag-step", journal_id)
    found = spans(records)
    assert len(found) == 1 and found[0].closed
    available = available_ns(found)
    assert 3.0 * S < available <= elapsed * S  # about the run's length, nothing more
    assert abs(naive_wall_ns(records) - (available - 2 * 3600 * S)) < S // 2
    anchors = [r for r in records.values() if type(r).__name__ == "Anchor"]
    assert len(anchors) == 3  # trusted at start, then one per step
