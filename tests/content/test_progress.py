"""Distribution progress without sockets: the scheduler's notes (every state change and
every acknowledged step) and the board that turns them into rate-limited events."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from controller.dataplane.content_service import (
    ServiceLimits,
    TransferNote,
    TransferScheduler,
)
from controller.library.distribution import DistributionBoard, Standing
from protocols.clock import ManualClock
from protocols.content import CHUNK_BYTES, NO_DEADLINE_NS, Cancel, Credit, Fetch
from tests.content.test_scheduler import Library, chunk_of

S = 10**9
AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def states(notes: list[TransferNote]) -> list[tuple[bytes, str, int, str | None]]:
    return [(n.agent, n.state.value, n.acknowledged, n.reason) for n in notes]


def test_a_transfer_is_noted_from_queued_to_cached(tmp_path: Path) -> None:
    library, clock = Library(tmp_path), ManualClock()
    sha = library.add(1, 3 * CHUNK_BYTES)
    sched = TransferScheduler(ServiceLimits(egress_bytes_per_s=None, max_concurrent=1), clock,
                              library.locate)
    sched.fetch(b"p1", b"A", Fetch(sha, 0, 8, NO_DEADLINE_NS))
    sched.fetch(b"p2", b"B", Fetch(sha, 0, 8, NO_DEADLINE_NS))  # no slot: queued
    assert states(sched.take_notes()) == [(b"A", "sending", 0, None), (b"B", "queued", 0, None)]
    assert sched.take_notes() == []  # taken once
    for _ in range(3):
        chunk_of(sched)
    assert sched.take_notes() == []  # sent is not acknowledged
    sched.credit(b"p1", Credit(sha, CHUNK_BYTES))
    sched.credit(b"p1", Credit(sha, CHUNK_BYTES))  # a repeat says nothing new
    sched.credit(b"p1", Credit(sha, 3 * CHUNK_BYTES))
    assert states(sched.take_notes()) == [
        (b"A", "sending", CHUNK_BYTES, None), (b"A", "cached", 3 * CHUNK_BYTES, None),
        (b"B", "sending", 0, None)]  # A's slot went to B


def test_failures_are_noted_with_their_reason(tmp_path: Path) -> None:
    library, clock = Library(tmp_path), ManualClock()
    sha = library.add(1, 20 * CHUNK_BYTES)
    sched = TransferScheduler(ServiceLimits(egress_bytes_per_s=None, stall_timeout_s=30.0),
                              clock, library.locate)
    missing = hashlib.sha256(b"never imported").digest()
    sched.fetch(b"p0", b"Z", Fetch(missing, 0, 8, NO_DEADLINE_NS))
    sched.fetch(b"p1", b"A", Fetch(sha, 0, 8, NO_DEADLINE_NS))
    sched.fetch(b"p2", b"B", Fetch(sha, 0, 8, NO_DEADLINE_NS))
    sched.fetch(b"p3", b"C", Fetch(sha, 0, 8, NO_DEADLINE_NS))
    sched.fetch(b"p4", b"D", Fetch(sha, 0, 8, NO_DEADLINE_NS))
    sched.take_notes()
    sched.cancel(b"p2", Cancel(sha))
    sched.drop_peer(b"p3")
    sched.drop_agent(b"D")
    chunk_of(sched)  # A: sent, then nothing acknowledged for longer than the stall limit
    clock.advance(31 * S)
    sched.housekeeping()
    assert states(sched.take_notes()) == [
        (b"B", "failed", 0, "cancelled"), (b"C", "failed", 0, "disconnected"),
        (b"D", "failed", 0, "denied"), (b"A", "failed", 0, "stalled")]
    missing_note = TransferScheduler(ServiceLimits(), clock, library.locate)
    missing_note.fetch(b"p0", b"Z", Fetch(missing, 0, 8, NO_DEADLINE_NS))
    assert states(missing_note.take_notes()) == [(b"Z", "failed", 0, "not_found")]


def test_a_transfer_that_cannot_make_its_air_time_is_noted_late(tmp_path: Path) -> None:
    library, clock = Library(tmp_path), ManualClock()
    big = library.add(1, 1_800_000)
    sched = TransferScheduler(ServiceLimits(egress_bytes_per_s=200_000.0), clock,
                              library.locate)
    sched.fetch(b"p1", b"A", Fetch(big, 0, 8, clock.wall_ns() + 3600 * S))  # in time
    sched.fetch(b"p2", b"B", Fetch(big, 0, 8, clock.wall_ns() + 5 * S))  # 9 s at the cap
    sched.take_notes()
    sched.housekeeping()
    assert states(sched.take_notes()) == [(b"B", "late", 0, None)]
    sched.credit(b"p2", Credit(big, CHUNK_BYTES))
    assert states(sched.take_notes()) == [(b"B", "late", CHUNK_BYTES, None)]  # stays late


def standing(agent: str, state: str, sent: int, size: int = 1000) -> Standing:
    return Standing(agent, "ab" * 32, state, size, sent, None, AT)


def test_the_board_publishes_every_state_and_progress_once_a_second() -> None:
    board = DistributionBoard(min_interval_s=1.0)
    board.record(standing("a1", "queued", 0))
    board.record(standing("a1", "sending", 0))
    assert [(s.state, s.percent) for s in board.due(0)] == [("queued", 0), ("sending", 0)]
    for sent in (100, 200, 300):  # several credits within the second: held back
        board.record(standing("a1", "sending", sent))
    assert board.due(int(0.5 * S)) == []
    assert [(s.state, s.percent) for s in board.due(int(1.0 * S))] == [("sending", 30)]
    assert board.due(int(2.5 * S)) == []  # nothing new: nothing again
    board.record(standing("a1", "sending", 400))
    board.record(standing("a1", "cached", 1000))  # a state change goes out at once
    assert [(s.state, s.percent) for s in board.due(int(2.6 * S))] == [("cached", 100)]
    assert board.due(int(9 * S)) == []
    assert [s.state for s in board.of_item("ab" * 32)] == ["cached"]


def test_two_hundred_agents_do_not_flood_the_stream() -> None:
    board = DistributionBoard(min_interval_s=1.0)
    published = 0
    for tick in range(100):  # 10 s, a credit per agent every 100 ms
        for n in range(200):
            board.record(standing(f"a{n}", "sending", tick * 10, size=10_000))
        published += len(board.due(tick * S // 10))
    # 200 "sending" states at the start, then at most one step per agent per second
    assert 200 <= published <= 200 + 200 * 10
    assert published > 200 + 200 * 8  # ... and progress does flow (a positive control)


def test_the_board_is_bounded_and_drops_finished_entries_first() -> None:
    board = DistributionBoard(capacity=3)
    board.record(standing("a1", "cached", 1000))
    board.record(standing("a2", "sending", 10))
    board.record(standing("a3", "sending", 10))
    board.record(standing("a4", "queued", 0))
    assert sorted(s.agent_id for s in board.of_item("ab" * 32)) == ["a2", "a3", "a4"]
