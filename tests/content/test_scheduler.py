"""The content service's decisions without sockets: admission, earliest deadline first,
credit windows, the egress cap, late alerts and refusals (on a manual clock)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec
import pytest

from controller.dataplane.content_service import (
    AlertKind,
    OutgoingChunk,
    ServiceLimits,
    TransferScheduler,
)
from protocols.clock import ManualClock
from protocols.content import (
    CHUNK_BYTES,
    NO_DEADLINE_NS,
    Cancel,
    Chunk,
    Credit,
    Fetch,
    ServiceFrame,
    Status,
    StatusCode,
)

S = 10**9


class Library:
    def __init__(self, root: Path) -> None:
        self.root = root

    def add(self, seed: int, size: int) -> bytes:
        data = hashlib.shake_256(seed.to_bytes(4, "big")).digest(size)
        sha = hashlib.sha256(data).digest()
        (self.root / sha.hex()).write_bytes(data)
        return sha

    def locate(self, sha: bytes) -> Path | None:
        path = self.root / sha.hex()
        return path if path.exists() else None


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return Library(tmp_path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def scheduler(library: Library, clock: ManualClock, **limits: object) -> TransferScheduler:
    settings = {"egress_bytes_per_s": None, **limits}
    return TransferScheduler(ServiceLimits(**settings), clock, library.locate)  # type: ignore[arg-type]


def statuses(out: list[tuple[bytes, bytes]]) -> list[tuple[bytes, StatusCode, int]]:
    result = []
    for peer, frame in out:
        op = msgspec.msgpack.decode(frame, type=ServiceFrame).op
        assert isinstance(op, Status)
        result.append((peer, op.code, op.position))
    return result


def chunk_of(sched: TransferScheduler) -> tuple[bytes, Chunk]:
    """Take the next chunk as the socket would, and mark it sent."""
    outgoing = sched.next_chunk()
    assert isinstance(outgoing, OutgoingChunk), outgoing
    sched.sent(outgoing)
    op = msgspec.msgpack.decode(outgoing.frame, type=ServiceFrame).op
    assert isinstance(op, Chunk)
    return outgoing.transfer.peer, op


def test_chunks_go_out_in_order_within_the_credit_window(library: Library,
                                                         clock: ManualClock) -> None:
    sha = library.add(1, 10 * CHUNK_BYTES + 5)
    sched = scheduler(library, clock)
    out, alerts = sched.fetch(b"p1", b"A", Fetch(sha, 0, 3, clock.wall_ns() + 3600 * S))
    assert out == [] and alerts == []
    offsets = [chunk_of(sched)[1].offset for _ in range(3)]
    assert offsets == [0, CHUNK_BYTES, 2 * CHUNK_BYTES]
    assert sched.next_chunk() is None  # window exhausted: wait for credit
    sched.credit(b"p1", Credit(sha, CHUNK_BYTES))
    assert chunk_of(sched)[1].offset == 3 * CHUNK_BYTES
    assert sched.next_chunk() is None


def test_a_resume_starts_at_the_offset_and_ends_with_a_short_chunk(library: Library,
                                                                   clock: ManualClock) -> None:
    size = 4 * CHUNK_BYTES + 100
    sha = library.add(1, size)
    sched = scheduler(library, clock)
    sched.fetch(b"p1", b"A", Fetch(sha, 3 * CHUNK_BYTES, 8, NO_DEADLINE_NS))
    chunks = [chunk_of(sched)[1] for _ in range(2)]
    assert [(c.offset, len(c.data), c.size) for c in chunks] == [
        (3 * CHUNK_BYTES, CHUNK_BYTES, size), (4 * CHUNK_BYTES, 100, size)]
    data = (library.root / sha.hex()).read_bytes()
    assert chunks[1].data == data[4 * CHUNK_BYTES:]
    sched.credit(b"p1", Credit(sha, size))
    assert sched.stats["completed"] == 1 and sched.active == 0


def test_an_agent_that_has_everything_gets_one_empty_chunk(library: Library,
                                                           clock: ManualClock) -> None:
    sha = library.add(1, 1000)
    sched = scheduler(library, clock)
    sched.fetch(b"p1", b"A", Fetch(sha, 1000, 8, NO_DEADLINE_NS))
    _, chunk = chunk_of(sched)
    assert (chunk.offset, chunk.data, chunk.size) == (1000, b"", 1000)
    assert sched.next_chunk() is None


def test_refusals(library: Library, clock: ManualClock) -> None:
    sha = library.add(1, 1000)
    sched = scheduler(library, clock, max_per_agent=1)
    out, _ = sched.fetch(b"p1", b"A", Fetch(sha, 1001, 8, NO_DEADLINE_NS))
    assert statuses(out) == [(b"p1", StatusCode.BAD_RANGE, 0)]
    missing = hashlib.sha256(b"nothing").digest()
    out, alerts = sched.fetch(b"p1", b"A", Fetch(missing, 0, 8, NO_DEADLINE_NS))
    assert statuses(out) == [(b"p1", StatusCode.NOT_FOUND, 0)]
    assert [(a.kind, a.agent, a.content) for a in alerts] == [(AlertKind.NOT_FOUND, b"A", missing)]
    _, alerts = sched.fetch(b"p1", b"A", Fetch(missing, 0, 8, NO_DEADLINE_NS))
    assert alerts == []  # said once, not at every retry
    other = library.add(2, 1000)
    sched.fetch(b"p1", b"A", Fetch(sha, 0, 8, NO_DEADLINE_NS))
    out, _ = sched.fetch(b"p1", b"A", Fetch(other, 0, 8, NO_DEADLINE_NS))
    assert statuses(out)[0][1] is StatusCode.BUSY  # one transfer per agent here


def test_a_corrupt_library_file_is_not_served(library: Library, clock: ManualClock) -> None:
    sha = library.add(1, 5000)
    (library.root / sha.hex()).write_bytes(b"damaged")
    sched = scheduler(library, clock)
    out, alerts = sched.fetch(b"p1", b"A", Fetch(sha, 0, 8, NO_DEADLINE_NS))
    assert statuses(out) == [(b"p1", StatusCode.NOT_FOUND, 0)]
    assert alerts[0].kind is AlertKind.CORRUPT


def test_concurrency_limit_queues_and_admits_as_slots_free(library: Library,
                                                           clock: ManualClock) -> None:
    sha = library.add(1, 2 * CHUNK_BYTES)
    sched = scheduler(library, clock, max_concurrent=2)
    air = clock.wall_ns() + 3600 * S
    replies = [sched.fetch(peer, peer, Fetch(sha, 0, 8, air))[0]
               for peer in (b"p1", b"p2", b"p3")]
    assert replies[:2] == [[], []]
    assert statuses(replies[2]) == [(b"p3", StatusCode.QUEUED, 2)]  # two go first
    assert (sched.active, sched.queued) == (2, 1)
    sent = {chunk_of(sched)[0] for _ in range(4)}
    assert sent == {b"p1", b"p2"} and sched.next_chunk() is None
    sched.credit(b"p1", Credit(sha, 2 * CHUNK_BYTES))  # p1 done: p3 gets the slot
    assert (sched.active, sched.queued) == (2, 0)
    assert {chunk_of(sched)[0] for _ in range(2)} == {b"p3"}
    assert sched.stats["max_active"] == 2


def test_the_soonest_airing_item_takes_a_slot_and_the_whole_cap(library: Library,
                                                               clock: ManualClock) -> None:
    routine, storm = library.add(1, 20 * CHUNK_BYTES), library.add(2, 20 * CHUNK_BYTES)
    sched = scheduler(library, clock, max_concurrent=1)
    now = clock.wall_ns()
    assert sched.fetch(b"p1", b"A", Fetch(routine, 0, 8, now + 86_400 * S))[0] == []
    chunk_of(sched)
    out, _ = sched.fetch(b"p2", b"B", Fetch(storm, 0, 8, now + 60 * S))
    assert statuses(out) == [(b"p1", StatusCode.QUEUED, 1)]  # pre-empted, told so
    assert sched.stats["preempted"] == 1
    assert {chunk_of(sched)[0] for _ in range(8)} == {b"p2"}
    # The routine transfer resumes where it was once the storm bulletin is through.
    sched.credit(b"p1", Credit(routine, CHUNK_BYTES))
    for written in (8, 16, 20):
        sched.credit(b"p2", Credit(storm, written * CHUNK_BYTES))
        while isinstance(nxt := sched.next_chunk(), OutgoingChunk) \
                and nxt.transfer.peer == b"p2":
            chunk_of(sched)
    assert sched.stats["completed"] == 1
    peer, chunk = chunk_of(sched)
    assert (peer, chunk.content, chunk.offset) == (b"p1", routine, CHUNK_BYTES)


def test_within_the_slots_the_most_urgent_with_credit_goes_first(library: Library,
                                                                 clock: ManualClock) -> None:
    later, sooner = library.add(1, 20 * CHUNK_BYTES), library.add(2, 20 * CHUNK_BYTES)
    sched = scheduler(library, clock, max_concurrent=4)
    now = clock.wall_ns()
    sched.fetch(b"p1", b"A", Fetch(later, 0, 2, now + 7200 * S))
    sched.fetch(b"p2", b"B", Fetch(sooner, 0, 2, now + 600 * S))
    order = [chunk_of(sched)[0] for _ in range(4)]
    assert order == [b"p2", b"p2", b"p1", b"p1"]  # the urgent one, then the gap filler


def test_the_egress_cap_paces_chunks(library: Library, clock: ManualClock) -> None:
    sha = library.add(1, 100 * CHUNK_BYTES)
    sched = scheduler(library, clock, egress_bytes_per_s=100_000.0, burst_bytes=CHUNK_BYTES)
    sched.fetch(b"p1", b"A", Fetch(sha, 0, 64, NO_DEADLINE_NS))
    chunk_of(sched)  # the burst
    wait = sched.next_chunk()
    assert isinstance(wait, int) and 0.1 * S < wait < 0.2 * S  # 16 kB at 100 kB/s
    sent = 0
    for _ in range(1000):  # ten seconds in 10 ms steps
        clock.advance(S // 100)
        while isinstance(sched.next_chunk(), OutgoingChunk):
            chunk_of(sched)
            sent += 1
    assert 0.9 * 1_000_000 <= sent * CHUNK_BYTES <= 1.05 * 1_000_000 + CHUNK_BYTES


def test_late_transfers_raise_an_alert_once(library: Library, clock: ManualClock) -> None:
    big = library.add(1, 1_800_000)
    sched = scheduler(library, clock, egress_bytes_per_s=200_000.0)
    now = clock.wall_ns()
    sched.fetch(b"p1", b"A", Fetch(big, 0, 8, now + 20 * S))  # 9 s of cap: fine
    sched.fetch(b"p2", b"B", Fetch(big, 0, 8, now + 20 * S))  # 18 s: fine
    sched.fetch(b"p3", b"C", Fetch(big, 0, 8, now + 20 * S))  # 27 s: late
    sched.fetch(b"p4", b"D", Fetch(big, 0, 8, now + 3600 * S))  # an hour away: fine
    sched.fetch(b"p5", b"E", Fetch(big, 0, 8, NO_DEADLINE_NS))  # pinned: never late
    _, alerts = sched.housekeeping()
    assert [(a.kind, a.agent) for a in alerts] == [(AlertKind.LATE, b"C")]
    assert "1800000 bytes left" in alerts[0].detail
    assert sched.housekeeping()[1] == []  # once per transfer


def test_a_slow_head_transfer_is_judged_by_its_own_pace(library: Library,
                                                        clock: ManualClock) -> None:
    """No cap, but the agent's own 4G link crawls: its observed rate says it is late."""
    big = library.add(1, 1_800_000)
    sched = scheduler(library, clock)
    sched.fetch(b"p1", b"A", Fetch(big, 0, 8, clock.wall_ns() + 60 * S))
    assert sched.housekeeping()[1] == []
    clock.advance(10 * S)
    sched.credit(b"p1", Credit(big, 100_000))  # 10 kB/s: 170 s to go, air in 50 s
    alerts = sched.housekeeping()[1]
    assert [a.kind for a in alerts] == [AlertKind.LATE]


def test_a_resume_from_a_new_connection_replaces_the_old_transfer(library: Library,
                                                                  clock: ManualClock) -> None:
    sha = library.add(1, 20 * CHUNK_BYTES)
    sched = scheduler(library, clock, max_concurrent=1)
    sched.fetch(b"old", b"A", Fetch(sha, 0, 8, NO_DEADLINE_NS))
    chunk_of(sched)
    out, _ = sched.fetch(b"new", b"A", Fetch(sha, CHUNK_BYTES, 8, NO_DEADLINE_NS))
    assert out == [] and sched.active == 1  # the old one freed its slot
    peer, chunk = chunk_of(sched)
    assert (peer, chunk.offset) == (b"new", CHUNK_BYTES)
    assert sched.credit(b"old", Credit(sha, 5 * CHUNK_BYTES)) == []  # stale: ignored


def test_a_credit_past_what_was_sent_skips_ahead(library: Library, clock: ManualClock) -> None:
    sha = library.add(1, 20 * CHUNK_BYTES)
    sched = scheduler(library, clock)
    sched.fetch(b"p1", b"A", Fetch(sha, 0, 2, NO_DEADLINE_NS))
    sched.credit(b"p1", Credit(sha, 6 * CHUNK_BYTES))  # it already had those bytes
    assert chunk_of(sched)[1].offset == 6 * CHUNK_BYTES


def test_stalled_and_cancelled_transfers_free_their_slot(library: Library,
                                                         clock: ManualClock) -> None:
    sha = library.add(1, 20 * CHUNK_BYTES)
    sched = scheduler(library, clock, max_concurrent=1, stall_timeout_s=30.0)
    sched.fetch(b"p1", b"A", Fetch(sha, 0, 8, NO_DEADLINE_NS))
    sched.fetch(b"p2", b"B", Fetch(sha, 0, 8, NO_DEADLINE_NS))
    chunk_of(sched)
    clock.advance(29 * S)
    sched.housekeeping()
    assert sched.stats["stalled"] == 0
    clock.advance(2 * S)  # p1's agent vanished without a word: no credit for 31 s
    sched.housekeeping()
    assert sched.stats["stalled"] == 1 and chunk_of(sched)[0] == b"p2"
    sched.cancel(b"p2", Cancel(sha))
    assert sched.active == 0 and sched.stats["cancelled"] == 1


def test_the_controller_deadline_hook_overrides_the_agents(library: Library,
                                                          clock: ManualClock) -> None:
    sha = library.add(1, 1_800_000)
    now = clock.wall_ns()
    sched = TransferScheduler(ServiceLimits(egress_bytes_per_s=100_000.0), clock,
                              library.locate, deadline=lambda content, agent: now + 5 * S)
    sched.fetch(b"p1", b"A", Fetch(sha, 0, 8, NO_DEADLINE_NS))
    assert sched.transfers()[0].need_by_ns == now + 5 * S
    assert [a.kind for a in sched.housekeeping()[1]] == [AlertKind.LATE]


def test_an_active_transfer_starved_by_more_urgent_ones_is_kept_and_told(
        library: Library, clock: ManualClock) -> None:
    """Sixteen agents with the same air time: the last one in a slot may get nothing for
    minutes while the cap goes to the others. It is not a stall, and its agent hears
    "queued" so it does not take the silence for a dead link."""
    sha = library.add(1, 200 * CHUNK_BYTES)  # 33 s at the cap
    sched = scheduler(library, clock, egress_bytes_per_s=100_000.0, stall_timeout_s=30.0,
                      queued_notice_s=20.0)
    air = clock.wall_ns() + 3600 * S
    sched.fetch(b"p1", b"A", Fetch(sha, 0, 64, air))
    sched.fetch(b"p2", b"B", Fetch(sha, 0, 64, air))
    notices: list[tuple[bytes, StatusCode, int]] = []
    for _ in range(600):  # a minute, in 0.1 s steps, with p1 crediting as it goes
        clock.advance(S // 10)
        while isinstance(sched.next_chunk(), OutgoingChunk):
            peer, chunk = chunk_of(sched)
            assert peer == b"p1"
            sched.credit(b"p1", Credit(sha, chunk.offset + len(chunk.data)))
        out, _ = sched.housekeeping()
        notices.extend(statuses(out))
        if sched.stats["completed"]:
            break
    assert sched.stats["stalled"] == 0 and sched.active == 1
    assert (b"p2", StatusCode.QUEUED, 1) in notices and all(p == b"p2" for p, _, _ in notices)
    clock.advance(S)
    assert chunk_of(sched)[0] == b"p2"  # its turn now
