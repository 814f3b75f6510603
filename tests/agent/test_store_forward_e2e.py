"""Store and forward through the real broker: acknowledged batches, oldest first, a small
window, heartbeats flowing during the drain, and no burst when the controller is silent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.journal import Journal
from protocols.clock import SystemClock
from protocols.envelope import Signer
from protocols.keys import SigningIdentity
from tests.support.agent_process import AgentProcess, ProvisionedAgent, provision
from tests.support.broker import RunningBroker
from tests.support.fleet_double import FleetDouble

pytestmark = pytest.mark.e2e


def prefill(agent: ProvisionedAgent, count: int) -> int:
    """A backlog as a day offline would leave it (written fast: test setup only)."""
    journal = Journal(agent.journal_path, SystemClock(trust="always"))
    journal._conn.execute("PRAGMA synchronous=OFF")
    for i in range(count):
        journal.event("backlog", f"record {i}")
    last = journal.last_seq
    journal.close_file()
    return last


def test_a_backlog_drains_oldest_first_in_acknowledged_batches_while_heartbeats_flow(
        tmp_path: Path, broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-drain", "ag-dr1", identity)
    last = prefill(agent, 1500)
    time.sleep(2.0)  # the backlog is at least this old when the agent comes up
    process = AgentProcess(agent)
    process.settings.update(journal__batch_records="100", journal__window="2",
                            journal__ack_timeout_s="10", journal__ack_timeout_max_s="10",
                            journal__extend_s="30", heartbeat__interval_s="0.5")
    with FleetDouble(broker, "xa-drain", Signer(identity, 1), ack_delay_s=0.4) as double:
        process.start()
        try:
            assert double.wait_for(lambda: len(double.journal_ids("ag-dr1")) == 1, 15)
            (journal_id,) = double.journal_ids("ag-dr1")
            assert double.wait_for(lambda: double.missing("ag-dr1", journal_id, last) == []
                                   and double.count("ag-dr1", journal_id) >= last, 60)
            assert double.wait_for(lambda: any(
                hb.backlog_records == 0 for _t, hb in double.heartbeats_of("ag-dr1")), 10)
        finally:
            process.terminate()
    batches = double.batches_of("ag-dr1")
    drain = [b for b in batches if b.first <= last]
    firsts = [b.first for b in drain]
    assert firsts == sorted(firsts), "not oldest first"
    assert all(b.entries <= 100 for b in batches)
    assert max(b.unacked_before for b in batches) <= 2  # the window, never a burst
    assert double.duplicates == 0  # acks in time: nothing was sent twice
    assert len(drain) >= last // 100
    # Heartbeats kept coming during the drain and told its size and age.
    start, end = drain[0].at, drain[-1].at
    during = [hb for t, hb in double.heartbeats_of("ag-dr1") if start <= t <= end]
    assert end - start > 2.0 and len(during) >= 3, (end - start, len(during))
    sizes = [hb.backlog_records for hb in during]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 0
    assert during[0].backlog_oldest_s >= 2
    assert [hb for _t, hb in double.heartbeats_of("ag-dr1")][-1].backlog_oldest_s == 0


def test_no_burst_while_the_controller_does_not_acknowledge(tmp_path: Path,
                                                             broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-silent", "ag-si1", identity)
    last = prefill(agent, 1000)
    process = AgentProcess(agent)
    process.settings.update(journal__batch_records="50", journal__window="2",
                            journal__ack_timeout_s="1", journal__ack_timeout_max_s="2",
                            journal__extend_s="30")
    with FleetDouble(broker, "xa-silent", Signer(identity, 1)) as double:
        double.acking = False
        process.start()
        try:
            assert double.wait_for(lambda: len(double.batches) >= 1, 15)
            time.sleep(5.0)
            silent = len(double.batches_of("ag-si1"))
            # 2 at once, then 2 per timeout (1 s, 2 s, 2 s): about 8, never the backlog.
            assert 2 <= silent <= 10, silent
            assert sum(b.entries for b in double.batches_of("ag-si1")) <= 10 * 50
            assert all(b.first == 1 for b in double.batches_of("ag-si1")[::2])  # go-back
            double.acking = True  # positive control: acks make it drain completely
            (journal_id,) = double.journal_ids("ag-si1")
            assert double.wait_for(lambda: double.missing("ag-si1", journal_id, last) == [], 60)
        finally:
            process.terminate()
