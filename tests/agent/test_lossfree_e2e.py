"""Nothing is lost (principle 2), end to end: a real agent process, the real broker, and
the real controller (``loaxa controller run``: fleet link, ``JournalIngest``, rollups)
storing into a real database, SQLite and PostgreSQL.

The agent, connected through the userspace relay, journals availability (an extension
every 0.2 s) and events (among them the volume commands an operator sends through the
controller's API). It is cut off (blackhole), ``kill -9``-ed at
random points and restarted; the controller is ``kill -9``-ed while the backlog drains
and the broker is restarted while the controller is down; finally the box is reflashed
(journal wiped, identity kept) and the controller restarted in an orderly way.
Afterwards the ``journal_record`` rows must hold every record each of the agent's
journals ever held, exactly once and byte for byte, with seqs 1..n and nothing else;
every availability interval is closed once, in the records and in the spans ingest
folded from them.

The random points come from ``LOAXA_TEST_SEED`` when set (the seed is printed).
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import Table, delete, func, select

from agent.journal import wipe
from controller.storage.database import Database
from controller.storage.tables.fleet import AvailabilitySpan, JournalGap, JournalRecord
from protocols.messages import (
    Anchor,
    Boot,
    CloseReason,
    Event,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
)
from protocols.messages import JournalRecord as Record
from tests.support.agent_process import AgentProcess, ProvisionedAgent
from tests.support.broker import RunningBroker
from tests.support.controller_process import ControllerProcess
from tests.support.databases import BACKENDS, database_url
from tests.support.netem import relay_to

pytestmark = pytest.mark.e2e
RECORDS: Table = JournalRecord.__table__  # type: ignore[attr-defined]
SPANS: Table = AvailabilitySpan.__table__  # type: ignore[attr-defined]
GAPS: Table = JournalGap.__table__  # type: ignore[attr-defined]


def journal_rows(agent: ProvisionedAgent) -> tuple[str, dict[int, bytes], dict[int, bool]]:
    """The journal file's id (hex, as the controller keys it) and its records, read
    without the Journal class."""
    conn = sqlite3.connect(f"file:{agent.journal_path}?mode=ro", uri=True, timeout=30)
    try:
        (journal_id,) = conn.execute("SELECT value FROM meta WHERE key = 'journal_id'").fetchone()
        rows = conn.execute("SELECT seq, body, acked FROM records ORDER BY seq").fetchall()
    finally:
        conn.close()
    return bytes(journal_id).hex(), {s: bytes(b) for s, b, _ in rows}, \
        {s: bool(a) for s, _, a in rows}


class Stored:
    """What the controller stored, read from its database."""

    def __init__(self, db_url: str, agent_id: str) -> None:
        self.db = Database(db_url)
        self.agent_id = agent_id

    def journal_ids(self) -> set[str]:
        with self.db.engine.connect() as conn:
            return set(conn.execute(select(RECORDS.c.journal_id).distinct().where(
                RECORDS.c.agent_id == self.agent_id)).scalars())

    def count(self) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(RECORDS).where(
                RECORDS.c.agent_id == self.agent_id)).scalar_one())

    def rows(self, journal_id: str) -> list[tuple[int, bytes]]:
        """Every row of one journal, duplicates (if the key ever let one in) included."""
        with self.db.engine.connect() as conn:
            return [(int(seq), bytes(body)) for seq, body in conn.execute(
                select(RECORDS.c.seq, RECORDS.c.body).where(
                    RECORDS.c.agent_id == self.agent_id, RECORDS.c.journal_id == journal_id)
                .order_by(RECORDS.c.seq))]

    def gaps(self, journal_id: str) -> set[int]:
        """The seqs the agent declared dropped (disk full), as stored."""
        with self.db.engine.connect() as conn:
            return {seq for first, last in conn.execute(
                select(GAPS.c.first_seq, GAPS.c.last_seq).where(
                    GAPS.c.agent_id == self.agent_id, GAPS.c.journal_id == journal_id))
                for seq in range(first, last + 1)}

    def missing(self, journal_id: str, up_to: int) -> list[int]:
        """Seqs in ``1..up_to`` neither stored nor declared dropped."""
        have = {seq for seq, _ in self.rows(journal_id)} | self.gaps(journal_id)
        return [seq for seq in range(1, up_to + 1) if seq not in have]

    def spans(self, journal_id: str) -> dict[int, Any]:
        with self.db.engine.connect() as conn:
            return {row.interval: row for row in conn.execute(select(SPANS).where(
                SPANS.c.agent_id == self.agent_id, SPANS.c.journal_id == journal_id))}

    def close(self) -> None:
        self.db.dispose()


def wait_until(predicate: Any, timeout: float, what: str, *logs: Any) -> None:
    """``logs``: processes whose log tails explain a timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n" + "\n".join(
            f"{type(p).__name__}:\n{p.log_text()[-2500:]}" for p in logs)
        time.sleep(0.2)


class VolumeCommands:
    """An operator sends a volume command through the controller's API every ~0.4 s (it
    fails while the controller is down: the operator tries again later)."""

    def __init__(self, station: ControllerProcess, agent_id: str) -> None:
        self.station = station
        self.agent_id = agent_id
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> VolumeCommands:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(0.4):
            try:
                self.station.api("POST", f"/agents/{self.agent_id}/commands",
                                 {"action": "volume", "level": (self.sent * 7) % 101})
                self.sent += 1
            except (httpx.HTTPError, AssertionError):
                pass


def kill_at_random(process: AgentProcess, rng: random.Random, low: float, high: float) -> int:
    """``kill -9`` the agent at a random point after it has started (journal open, an
    interval opened: so each kill leaves exactly one interval for the next start to close
    as recovered), then start it again."""
    process.wait_started()
    time.sleep(rng.uniform(low, high))
    process.kill9()
    process.start()
    return 1


def wait_delivered(stored: Stored, agent: ProvisionedAgent, process: AgentProcess,
                   station: ControllerProcess, timeout: float = 30.0) -> None:
    """Until the database holds everything the running agent's journal holds right now."""
    journal_id, records, _ = journal_rows(agent)
    top = max(records)
    deadline = time.monotonic() + timeout
    while missing := stored.missing(journal_id, top):
        assert time.monotonic() < deadline, (
            f"missing {missing[:20]}\nagent:\n{process.log_text()[-2000:]}\n"
            f"controller:\n{station.log_text()[-2000:]}")
        time.sleep(0.2)


def stop_fully_delivered(stored: Stored, agent: ProvisionedAgent, process: AgentProcess,
                         station: ControllerProcess) -> None:
    """SIGTERM, and if the last records were not acknowledged in time, run once more."""
    for _ in range(4):
        wait_delivered(stored, agent, process, station)
        assert process.terminate() == 0, process.log_text()[-3000:]
        _, _records, acked = journal_rows(agent)
        if all(acked.values()):
            return
        process.start()
    raise AssertionError("the journal never finished draining")


def check_journal(stored: Stored, agent: ProvisionedAgent, kills: int) -> dict[str, int]:
    """Everything in the journal file is in the database exactly once, and nothing else;
    every interval it opened is a closed span."""
    journal_id, records, acked = journal_rows(agent)
    assert all(acked.values())
    n = len(records)
    assert sorted(records) == list(range(1, n + 1)), "the agent's journal itself has a hole"
    rows = stored.rows(journal_id)
    seqs = [seq for seq, _ in rows]
    assert len(rows) == n, f"{len(rows)} rows stored for {n} journalled"
    assert sorted(seqs) == list(range(1, n + 1)), "seqs missing or duplicated"
    assert dict(rows) == records, "the stored bodies differ from the agent's journal"
    assert not stored.gaps(journal_id)  # nothing had to be dropped here
    decoded = {seq: msgspec.msgpack.decode(body, type=Record) for seq, body in rows}
    kinds = Counter(type(r).__name__ for r in decoded.values())
    opens = [s for s, r in decoded.items() if isinstance(r, IntervalOpen)]
    closes = [r for r in decoded.values() if isinstance(r, IntervalClose)]
    assert sorted(c.interval for c in closes) == opens  # every interval closed exactly once
    recovered = sum(c.reason is CloseReason.RECOVERED for c in closes)
    assert recovered == kills  # each kill -9 left one open interval behind
    assert isinstance(decoded[1], Boot) and kinds["Boot"] == 1  # one kernel boot
    assert any(isinstance(r, Anchor) for r in decoded.values())
    # The spans ingest folded from those records, delivered out of order and twice.
    spans = stored.spans(journal_id)
    assert sorted(spans) == opens and all(span.closed for span in spans.values())
    by_interval: dict[int, list[Any]] = defaultdict(list)
    for seq, record in decoded.items():
        if isinstance(record, IntervalOpen):
            by_interval[seq].append(record)
        elif isinstance(record, (IntervalExtend, IntervalClose)):
            by_interval[record.interval].append(record)
    for interval, span in spans.items():
        assert span.start_mono_ns == decoded[interval].stamp.mono_ns
        assert span.end_mono_ns == max(r.stamp.mono_ns for r in by_interval[interval])
    return dict(kinds, records=n, recovered=recovered)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_journal_loses_nothing(tmp_path: Path, broker: RunningBroker, backend: str) -> None:
    seed = int(os.environ.get("LOAXA_TEST_SEED", time.time_ns() % 2**31))
    print(f"LOAXA_TEST_SEED={seed}")
    rng = random.Random(seed)
    commune = f"xa-lossfree-{backend[:2]}"  # the module's broker serves both backends
    started = time.monotonic()
    with database_url(backend, tmp_path) as url, relay_to(broker.port) as relay, \
            ControllerProcess(tmp_path / "station", broker, url, commune,
                              agent_port=relay.port) as station:
        station.start()
        agent = station.enrol("c-1", tmp_path / "agent")
        laps = [f"enrolled {time.monotonic() - started:.1f} s"]
        stored = Stored(url, agent.agent_id)
        process = AgentProcess(agent)
        process.settings.update(journal__extend_s="0.2", journal__batch_records="20",
                                journal__ack_timeout_s="1.5", journal__ack_timeout_max_s="3")
        try:
            with VolumeCommands(station, agent.agent_id) as commands:
                process.start()
                wait_until(lambda: stored.count() >= 20, 30, "the first records", process,
                           station)
                kills = 0

                # Cut off: the agent keeps journalling; it is killed and restarted offline.
                relay.partition("blackhole")
                for _ in range(2):
                    kills += kill_at_random(process, rng, 0.5, 2.0)
                time.sleep(rng.uniform(1.0, 2.0))
                relay.heal()

                # The backlog drains: the controller crashes mid-ingest, the broker restarts
                # while it is down (batches and retries wait in its session), the agent is
                # killed again while the controller comes back.
                time.sleep(rng.uniform(0.2, 1.5))
                station.kill9()
                time.sleep(rng.uniform(0.5, 1.5))
                broker.process.restart()
                station.start()
                for _ in range(2):
                    kills += kill_at_random(process, rng, 0.3, 2.0)
                stop_fully_delivered(stored, agent, process, station)
                first = check_journal(stored, agent, kills)
                laps.append(f"journal 1 {time.monotonic() - started:.1f} s")
                old_id, _, _ = journal_rows(agent)

                # Reflash: a new journal (the identity and enrolment stay); the controller
                # is restarted in an orderly way meanwhile.
                wipe(agent.journal_path)
                process.start()
                wait_until(lambda: len(stored.journal_ids()) == 2, 30, "the new journal",
                           process, station)
                kill_at_random(process, rng, 0.5, 2.0)
                assert station.terminate() == 0, station.log_text()[-3000:]
                time.sleep(rng.uniform(0.2, 1.0))
                station.start()
                time.sleep(rng.uniform(0.5, 1.5))
                stop_fully_delivered(stored, agent, process, station)
                second = check_journal(stored, agent, kills=1)
                laps.append(f"journal 2 {time.monotonic() - started:.1f} s")
                new_id, _, _ = journal_rows(agent)

            assert new_id != old_id and stored.journal_ids() == {old_id, new_id}
            events = [seq for j in (old_id, new_id) for seq, body in stored.rows(j)
                      if isinstance(r := msgspec.msgpack.decode(body, type=Record), Event)
                      and r.code == "cmd-volume"]
            assert events, f"no command events were journalled ({commands.sent} sent)"
            log = station.log_text()
            assert "Traceback" not in log, log[-3000:]

            # Control: the check notices a single stored record going missing.
            with stored.db.engine.begin() as conn:
                conn.execute(delete(RECORDS).where(
                    RECORDS.c.agent_id == agent.agent_id, RECORDS.c.journal_id == new_id,
                    RECORDS.c.seq == second["records"] // 2))
            with pytest.raises(AssertionError, match="rows stored"):
                check_journal(stored, agent, kills=1)
        finally:
            process.kill9()
            stored.close()
    print(f"journal 1: {first}\njournal 2: {second}\ncommands {commands.sent}, "
          f"agent starts {process.starts}, controller starts {station.starts}; "
          f"{', '.join(laps)}, done {time.monotonic() - started:.1f} s")


def test_coalesced_extensions_arrive_as_declared_gaps(tmp_path: Path,
                                                      broker: RunningBroker) -> None:
    """A small bound and a long cut: extensions coalesce offline, the gaps are declared, and
    every seq is still accounted for in the controller's database (a ``journal_record``
    or a ``journal_gap``), while the records that are never dropped all arrive."""
    url = f"sqlite:///{tmp_path / 'loaxa.db'}"
    with relay_to(broker.port) as relay, \
            ControllerProcess(tmp_path / "station", broker, url, "xa-gaps",
                              agent_port=relay.port) as station:
        station.start()
        agent = station.enrol("c-1", tmp_path / "agent")
        stored = Stored(url, agent.agent_id)
        process = AgentProcess(agent)
        process.settings.update(journal__max_records="40", journal__extend_s="0.1",
                                journal__batch_records="20")
        process.start()
        try:
            wait_until(lambda: stored.count() >= 3, 30, "the first records", process, station)
            relay.partition("blackhole")
            time.sleep(6.0)  # ~60 extensions against a bound of 40 records
            relay.heal()
            journal_id, records, _ = journal_rows(agent)
            wait_until(lambda: not stored.missing(journal_id, max(records)), 40,
                       "every seq stored or declared", process, station)
        finally:
            assert process.terminate() == 0
        rows = dict(stored.rows(journal_id))
        gaps = stored.gaps(journal_id)
        stored.close()
    _, final, _ = journal_rows(agent)  # the agent kept coalescing after the snapshot
    assert gaps, "nothing was coalesced: the bound was never reached"
    assert gaps.isdisjoint(final)  # the agent holds no record it declared dropped
    assert all(rows[s] == body for s, body in final.items() if s in rows)
    decoded = {seq: msgspec.msgpack.decode(body, type=Record) for seq, body in rows.items()}
    assert sum(isinstance(r, IntervalOpen) for r in decoded.values()) == 1
    assert isinstance(decoded[1], Boot)
    assert all(isinstance(decoded[s], IntervalExtend) for s in gaps if s in decoded)
