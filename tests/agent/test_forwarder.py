"""Store and forward, unit level: window, oldest first, acks, go-back-N with back-off, linger."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec
import pytest

from agent.forwarder import Forwarder, ForwardSettings, _subtract
from agent.journal import Journal, JournalLimits
from protocols.clock import ManualClock
from protocols.messages import Evidence, JournalAck, JournalBatch, SeqRange

S = 10**9


class Wire:
    """What the forwarder published, decoded; ``online`` decides whether sends succeed."""

    def __init__(self) -> None:
        self.sent: list[JournalBatch] = []
        self.online = True

    def __call__(self, payload: bytes) -> bool:
        if not self.online:
            return False
        self.sent.append(msgspec.msgpack.decode(payload, type=JournalBatch))
        return True


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Journal, ManualClock, Wire]:
    boot = tmp_path / "boot_id"
    boot.write_text(str(uuid.uuid4()))
    clock = ManualClock()
    journal = Journal(tmp_path / "j.db", clock, boot_id_path=boot,
                      limits=JournalLimits(max_records=100_000))
    return journal, clock, Wire()


def ack_of(batch: JournalBatch) -> JournalAck:
    seqs = [e.seq for e in batch.entries]
    ranges = [SeqRange(s, s) for s in seqs] + list(batch.gaps)
    return JournalAck(batch.journal_id, ranges)


def fill(journal: Journal, n: int) -> None:
    for i in range(n):
        journal.event("e", str(i))


def test_backlog_goes_oldest_first_in_a_bounded_window(setup: tuple[Journal, ManualClock,
                                                                    Wire]) -> None:
    journal, clock, wire = setup
    fill(journal, 99)  # + the Boot record = 100
    forwarder = Forwarder(journal, wire, clock, ForwardSettings(batch_records=10, window=2,
                                                                linger_s=0))
    forwarder.link_up()
    assert len(wire.sent) == 2 and forwarder.in_flight == 2  # never more than the window
    forwarder.tick()
    assert len(wire.sent) == 2  # no ack, no more batches: no burst
    seen: list[int] = []
    while wire.sent:
        batch = wire.sent.pop(0)
        seen += [e.seq for e in batch.entries]
        assert len(batch.entries) <= 10 and batch.journal_id == journal.journal_id
        forwarder.on_ack(ack_of(batch))
        assert forwarder.in_flight <= 2
    assert seen == list(range(1, 101))  # oldest first, each once
    assert journal.backlog().records == 0 and forwarder.counters.records_acked == 100


def test_no_ack_means_go_back_with_a_growing_timeout(setup: tuple[Journal, ManualClock,
                                                                  Wire]) -> None:
    journal, clock, wire = setup
    fill(journal, 49)
    forwarder = Forwarder(journal, wire, clock, ForwardSettings(
        batch_records=10, window=2, ack_timeout_s=30, ack_timeout_max_s=100, linger_s=0))
    forwarder.link_up()
    first = [b.entries[0].seq for b in wire.sent]
    assert first == [1, 11]
    clock.advance(29 * S)
    forwarder.tick()
    assert len(wire.sent) == 2
    clock.advance(2 * S)  # 31 s: the oldest batch timed out
    forwarder.tick()
    assert [b.entries[0].seq for b in wire.sent[2:]] == [1, 11]  # resent from the oldest
    assert forwarder.counters.timeouts == 1
    clock.advance(31 * S)  # the timeout has doubled to 60 s
    forwarder.tick()
    assert len(wire.sent) == 4
    clock.advance(30 * S)
    forwarder.tick()
    assert len(wire.sent) == 6
    for _ in range(5):  # capped at ack_timeout_max_s
        clock.advance(101 * S)
        forwarder.tick()
    assert len(wire.sent) == 16
    # Over ~10 minutes with no controller: 16 batches, not the whole backlog repeatedly.
    forwarder.on_ack(ack_of(wire.sent[-2]))  # an ack resets the timeout
    assert forwarder._timeout_ns == 30 * S


def test_a_duplicate_or_partial_ack_is_harmless(setup: tuple[Journal, ManualClock,
                                                             Wire]) -> None:
    journal, clock, wire = setup
    fill(journal, 19)
    forwarder = Forwarder(journal, wire, clock, ForwardSettings(batch_records=10, window=1,
                                                                linger_s=0))
    forwarder.link_up()
    batch = wire.sent[0]
    partial = JournalAck(batch.journal_id, [SeqRange(1, 5)])
    assert forwarder.on_ack(partial) == 5
    assert forwarder.in_flight == 1 and len(wire.sent) == 1  # not fully acknowledged yet
    assert forwarder.on_ack(JournalAck(batch.journal_id, [SeqRange(6, 10)])) == 5
    assert forwarder.in_flight == 1 and len(wire.sent) == 2  # done in two acks: next one
    assert forwarder.on_ack(ack_of(batch)) == 0  # again: nothing new, no harm
    assert [e.seq for e in wire.sent[1].entries] == list(range(11, 21))


def test_an_ack_for_another_journal_is_ignored(setup: tuple[Journal, ManualClock,
                                                            Wire]) -> None:
    journal, clock, wire = setup
    forwarder = Forwarder(journal, wire, clock, ForwardSettings(linger_s=0))
    forwarder.link_up()
    stale = JournalAck(bytes(16), [SeqRange(1, 100)])
    assert forwarder.on_ack(stale) == 0 and forwarder.counters.stale_acks == 1
    assert journal.backlog().records == 1
    assert forwarder.on_ack(ack_of(wire.sent[0])) == 1  # positive control


def test_offline_sends_nothing_and_resumes_on_link_up(setup: tuple[Journal, ManualClock,
                                                                   Wire]) -> None:
    journal, clock, wire = setup
    fill(journal, 5)
    forwarder = Forwarder(journal, wire, clock, ForwardSettings(linger_s=0))
    forwarder.tick()
    assert wire.sent == []  # never told the link is up
    forwarder.link_up()
    assert len(wire.sent) == 1
    forwarder.link_down()
    clock.advance(3600 * S)
    forwarder.tick()
    assert len(wire.sent) == 1  # offline: no retries
    wire.online = True
    forwarder.link_up()  # the batch in flight gets a fresh timeout rather than a resend
    assert len(wire.sent) == 1
    clock.advance(31 * S)
    forwarder.tick()
    assert len(wire.sent) == 2


def test_extensions_alone_linger_anything_else_goes_at_once(setup: tuple[Journal, ManualClock,
                                                                         Wire]) -> None:
    journal, clock, wire = setup
    journal.open(Evidence.PROCESS)
    forwarder = Forwarder(journal, wire, clock, ForwardSettings(linger_s=600))
    forwarder.link_up()
    assert len(wire.sent) == 1  # Boot + open: not only extensions
    forwarder.on_ack(ack_of(wire.sent[0]))
    clock.advance(300 * S)
    journal.extend()
    forwarder.tick()
    assert len(wire.sent) == 1  # a lone extension waits
    clock.advance(300 * S)
    journal.extend()
    forwarder.tick()
    assert len(wire.sent) == 1  # the oldest has waited 300 s
    clock.advance(300 * S)
    forwarder.tick()
    assert len(wire.sent) == 2  # ... and now 600 s: both go in one batch
    assert len(wire.sent[1].entries) == 2
    forwarder.on_ack(ack_of(wire.sent[1]))
    clock.advance(60 * S)
    journal.extend()
    journal.event("sink-error")
    forwarder.tick()
    assert len(wire.sent) == 3  # an event is sent at once, with the extension before it


def test_subtract() -> None:
    assert _subtract([(1, 10)], [(3, 4), (8, 20)]) == [(1, 2), (5, 7)]
    assert _subtract([(1, 3), (7, 7)], [(0, 100)]) == []
    assert _subtract([(5, 6)], []) == [(5, 6)]

