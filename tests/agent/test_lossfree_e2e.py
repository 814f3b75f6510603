"""Nothing is lost (principle 2), end to end with the real broker and real agent processes.

An agent process, connected through the userspace relay, journals availability (an
extension every 0.2 s) and events (signed volume commands from the controller double).
It is cut off (blackhole), ``kill -9``-ed at random points and restarted, the broker is
restarted under it, and finally the box is reflashed (journal wiped, identity kept).
Afterwards every record the agent's journal ever held must be stored exactly once at
the double, byte for byte, with every sequence number of each journal accounted for.

The random points come from ``LOAXA_TEST_SEED`` when set (the seed is printed).
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from agent.journal import wipe
from protocols.envelope import Domain, Signer
from protocols.keys import SigningIdentity
from protocols.messages import (
    Anchor,
    Boot,
    CloseReason,
    Command,
    Event,
    IntervalClose,
    IntervalOpen,
    SetVolume,
)
from protocols.topics import AgentChannel, agent_topic
from tests.support.agent_process import AgentProcess, ProvisionedAgent, provision
from tests.support.broker import RunningBroker
from tests.support.fleet_double import FleetDouble
from tests.support.netem import relay_to

pytestmark = pytest.mark.e2e
S = 10**9
COMMUNE = "xa-lossfree"
AGENT = "ag-lf1"


def journal_rows(agent: ProvisionedAgent) -> tuple[bytes, dict[int, bytes], dict[int, bool]]:
    """The journal file's identity and records, read without the Journal class."""
    conn = sqlite3.connect(f"file:{agent.journal_path}?mode=ro", uri=True, timeout=30)
    try:
        (journal_id,) = conn.execute("SELECT value FROM meta WHERE key = 'journal_id'").fetchone()
        rows = conn.execute("SELECT seq, body, acked FROM records ORDER BY seq").fetchall()
    finally:
        conn.close()
    return bytes(journal_id), {s: bytes(b) for s, b, _ in rows}, {s: bool(a) for s, _, a in rows}


class VolumeCommands:
    """The controller double sends a signed volume command every few hundred ms."""

    def __init__(self, double: FleetDouble, identity: SigningIdentity) -> None:
        self.double = double
        self.signer = Signer(identity, 1)
        self.counter = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> VolumeCommands:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        topic = agent_topic(COMMUNE, AGENT, AgentChannel.COMMAND)
        while not self._stop.wait(0.3):
            self.counter += 1
            now = time.time_ns()
            body = Command(counter=self.counter, agent_id=AGENT, not_before_ns=now - 60 * S,
                           expires_ns=now + 60 * S, action=SetVolume(level=self.counter % 101))
            self.double.client.publish(topic, self.signer.seal(Domain.COMMAND, topic, body),
                                       qos=1)


def wait_delivered(double: FleetDouble, agent: ProvisionedAgent, process: AgentProcess,
                   timeout: float = 30.0) -> None:
    """Until the double holds everything the running agent's journal holds right now."""
    journal_id, records, _ = journal_rows(agent)
    top = max(records)
    ok = double.wait_for(lambda: double.missing(AGENT, journal_id, up_to=top) == [], timeout)
    assert ok, (f"missing {double.missing(AGENT, journal_id, up_to=top)[:20]}\n"
                f"{process.log_text()[-3000:]}")


def stop_fully_delivered(double: FleetDouble, agent: ProvisionedAgent,
                         process: AgentProcess) -> None:
    """SIGTERM, and if the last records were not acknowledged in time, run once more."""
    for _ in range(4):
        wait_delivered(double, agent, process)
        assert process.terminate() == 0, process.log_text()[-3000:]
        _, _records, acked = journal_rows(agent)
        if all(acked.values()):
            return
        process.start()
    raise AssertionError("the journal never finished draining")


def check_journal(double: FleetDouble, agent: ProvisionedAgent, kills: int) -> dict[str, int]:
    """Everything in the journal file is at the double exactly once, and nothing else."""
    journal_id, records, acked = journal_rows(agent)
    assert all(acked.values())
    stored = double.raw_records(AGENT, journal_id)
    assert stored == records, "the double's copy differs from the agent's journal"
    assert double.missing(AGENT, journal_id, up_to=max(records)) == []
    assert not double.gaps(AGENT, journal_id)  # nothing had to be dropped here
    assert double.conflicts == []
    decoded = double.records(AGENT, journal_id)
    kinds = Counter(type(r).__name__ for r in decoded.values())
    opens = [s for s, r in decoded.items() if isinstance(r, IntervalOpen)]
    closes = [r for r in decoded.values() if isinstance(r, IntervalClose)]
    assert sorted(c.interval for c in closes) == opens  # every interval closed exactly once
    recovered = sum(c.reason is CloseReason.RECOVERED for c in closes)
    assert recovered == kills  # each kill -9 left one open interval behind
    assert isinstance(decoded[1], Boot) and kinds["Boot"] == 1  # one kernel boot
    assert kinds["Anchor"] >= 1 and any(isinstance(r, Anchor) for r in decoded.values())
    return dict(kinds, records=len(records), recovered=recovered)


def test_the_journal_loses_nothing(tmp_path: Path, broker: RunningBroker) -> None:
    seed = int(os.environ.get("LOAXA_TEST_SEED", time.time_ns() % 2**31))
    print(f"LOAXA_TEST_SEED={seed}")
    rng = random.Random(seed)
    identity = SigningIdentity.generate()
    started = time.monotonic()
    with relay_to(broker.port) as relay:
        agent = provision(broker, tmp_path, COMMUNE, AGENT, identity, port=relay.port)
        process = AgentProcess(agent)
        process.settings.update(journal__extend_s="0.2", journal__batch_records="20",
                                journal__ack_timeout_s="1.5", journal__ack_timeout_max_s="3")
        with FleetDouble(broker, COMMUNE, Signer(identity, 1)) as double, \
                VolumeCommands(double, identity):
            process.start()
            assert double.wait_for(lambda: sum(
                double.count(AGENT, j) for j in double.journal_ids(AGENT)) >= 20, 20), \
                process.log_text()
            kills = 0

            # Cut off: the agent keeps journalling; it is killed and restarted offline.
            relay.partition("blackhole")
            for _ in range(2):
                time.sleep(rng.uniform(0.5, 2.0))
                process.kill9()
                kills += 1
                process.start()
            time.sleep(rng.uniform(1.0, 2.0))
            relay.heal()

            # The backlog drains while the broker restarts and the agent is killed again.
            time.sleep(rng.uniform(0.2, 1.5))
            broker.process.restart()
            for _ in range(2):
                time.sleep(rng.uniform(0.3, 2.0))
                process.kill9()
                kills += 1
                process.start()
            first = check_after_stop = None
            stop_fully_delivered(double, agent, process)
            first = check_journal(double, agent, kills)
            old_id, _, _ = journal_rows(agent)

            # Reflash: a new journal (the identity and enrolment stay).
            wipe(agent.journal_path)
            process.start()
            assert double.wait_for(lambda: len(double.journal_ids(AGENT)) == 2, 20)
            time.sleep(rng.uniform(0.5, 2.0))
            process.kill9()
            process.start()
            time.sleep(rng.uniform(0.5, 1.5))
            stop_fully_delivered(double, agent, process)
            second = check_journal(double, agent, kills=1)
            new_id, _, _ = journal_rows(agent)
            check_after_stop = double.journal_ids(AGENT)

    assert new_id != old_id and sorted(check_after_stop or []) == sorted([old_id, new_id])
    events = [r for j in (old_id, new_id) for r in double.records(AGENT, j).values()
              if isinstance(r, Event) and r.code == "cmd-volume"]
    assert events, "no command events were journalled"
    print(f"journal 1: {first}\njournal 2: {second}\n"
          f"deliveries {double.deliveries}, duplicates {double.duplicates}, "
          f"batches {len(double.batches)}, starts {process.starts}, "
          f"{time.monotonic() - started:.1f} s")


def test_coalesced_extensions_arrive_as_declared_gaps(tmp_path: Path,
                                                      broker: RunningBroker) -> None:
    """A small bound and a long cut: extensions coalesce offline, the gaps are declared, and
    every seq is still accounted for at the controller (stored or declared, never both
    missing), while the records that are never dropped all arrive."""
    identity = SigningIdentity.generate()
    with relay_to(broker.port) as relay:
        agent = provision(broker, tmp_path, "xa-gaps", "ag-g1", identity, port=relay.port)
        process = AgentProcess(agent)
        process.settings.update(journal__max_records="40", journal__extend_s="0.1",
                                journal__batch_records="20")
        with FleetDouble(broker, "xa-gaps", Signer(identity, 1)) as double:
            process.start()
            try:
                assert double.wait_for(lambda: len(double.births) >= 1, 15)
                relay.partition("blackhole")
                time.sleep(6.0)  # ~60 extensions against a bound of 40 records
                relay.heal()
                process.wait_started()
                journal_id, records, _ = journal_rows(agent)
                assert double.wait_for(
                    lambda: double.missing("ag-g1", journal_id, up_to=max(records)) == [], 40)
            finally:
                assert process.terminate() == 0
    gaps = double.gaps("ag-g1", journal_id)
    stored = double.raw_records("ag-g1", journal_id)
    _, final, _ = journal_rows(agent)  # the agent kept coalescing after the snapshot
    assert gaps, "nothing was coalesced: the bound was never reached"
    assert gaps.isdisjoint(final)  # the agent holds no record it declared dropped
    assert all(stored[s] == body for s, body in final.items() if s in stored)
    decoded = double.records("ag-g1", journal_id)
    assert sum(isinstance(r, IntervalOpen) for r in decoded.values()) == 1
    assert isinstance(decoded[1], Boot)
