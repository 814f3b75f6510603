"""The journal: durable identity, recovery, time anchors, the bounded drop order, disk full."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from agent.journal import (
    InvalidRecord,
    Journal,
    JournalLimits,
    event_code,
    to_ranges,
    wipe,
)
from protocols.clock import ManualClock
from protocols.messages import (
    Anchor,
    Boot,
    CloseReason,
    Event,
    Evidence,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
    Play,
    PlayOutcome,
    SeqRange,
)
from protocols.timefields import TimeQuality

ROOT = Path(__file__).resolve().parents[2]
S = 10**9


@pytest.fixture
def boot_id(tmp_path: Path) -> Path:
    path = tmp_path / "boot_id"
    path.write_text(str(uuid.uuid4()) + "\n")
    return path


def open_journal(tmp_path: Path, clock: ManualClock, boot_id: Path,
                 **limits: int) -> Journal:
    return Journal(tmp_path / "journal.db", clock, software="loaxa test", boot_id_path=boot_id,
                   limits=JournalLimits(**limits))  # type: ignore[arg-type]


def kinds(journal: Journal) -> list[str]:
    return [type(record).__name__ for _seq, record, _acked in journal.entries()]


def play(clock: ManualClock, journal: Journal, slot: str = "s1") -> Play:
    return Play(journal.stamp(), slot_id=slot, content=bytes(32), scheduled_ns=clock.wall_ns(),
                first_sample_ns=clock.wall_ns(), end_ns=clock.wall_ns() + S,
                outcome=PlayOutcome.AIRED, reason="", evidence=Evidence.SINK)


def test_records_and_identity_survive_reopening(tmp_path: Path, boot_id: Path) -> None:
    clock = ManualClock()
    journal = open_journal(tmp_path, clock, boot_id)
    first_id = journal.journal_id
    assert kinds(journal) == ["Boot"]  # a new journal starts with its boot
    interval = journal.open(Evidence.SINK)
    clock.advance(300 * S)
    journal.extend()
    seq = journal.event("volume", "80")
    journal.close(CloseReason.STOPPED)
    journal.close_file()

    again = open_journal(tmp_path, clock, boot_id)
    assert again.journal_id == first_id and again.boot == 1
    assert kinds(again) == ["Boot", "IntervalOpen", "IntervalExtend", "Event", "IntervalClose"]
    assert [s for s, _r, _a in again.entries()] == [1, 2, 3, 4, 5]
    assert interval == 2 and seq == 4
    assert again.event("next") == 6  # the sequence continues, never reused


def test_seqs_are_never_reused_after_pruning(tmp_path: Path, boot_id: Path) -> None:
    clock = ManualClock()
    journal = open_journal(tmp_path, clock, boot_id, max_records=1000)
    for _ in range(5):
        journal.event("e")
    journal.acknowledge([SeqRange(1, 6)])
    assert journal._prune_acked() == 6
    journal.close_file()
    again = open_journal(tmp_path, clock, boot_id)
    assert again.event("after") == 7 and again.last_seq == 7


def test_a_wiped_journal_is_a_new_journal(tmp_path: Path, boot_id: Path) -> None:
    clock = ManualClock()
    journal = open_journal(tmp_path, clock, boot_id)
    old = journal.journal_id
    journal.event("x")
    journal.close_file()
    wipe(tmp_path / "journal.db")
    fresh = open_journal(tmp_path, clock, boot_id)
    assert fresh.journal_id != old and fresh.last_seq == 1 and kinds(fresh) == ["Boot"]


def test_a_new_kernel_boot_gets_a_boot_record(tmp_path: Path, boot_id: Path) -> None:
    clock = ManualClock()
    open_journal(tmp_path, clock, boot_id).close_file()
    open_journal(tmp_path, clock, boot_id).close_file()  # a restart: same boot
    kernel = uuid.uuid4()
    boot_id.write_text(str(kernel))
    journal = open_journal(tmp_path, clock, boot_id)
    boots = [r for _s, r, _a in journal.entries() if isinstance(r, Boot)]
    assert [b.stamp.boot for b in boots] == [1, 2]
    assert boots[-1].kernel_boot_id == kernel.bytes and boots[-1].software == "loaxa test"
    assert journal.stamp().boot == 2


def test_an_unreadable_boot_id_counts_as_a_new_boot(tmp_path: Path) -> None:
    clock = ManualClock()
    missing = tmp_path / "no-such-boot-id"
    open_journal(tmp_path, clock, missing).close_file()
    journal = open_journal(tmp_path, clock, missing)
    assert journal.boot == 2  # monotonic times of two starts are never compared


def test_an_interval_left_open_by_a_crash_is_closed_at_its_last_extension(
        tmp_path: Path, boot_id: Path) -> None:
    clock = ManualClock()
    journal = open_journal(tmp_path, clock, boot_id)
    interval = journal.open(Evidence.PROCESS)
    clock.advance(300 * S)
    journal.extend()
    last = journal.entries()[-1][1]
    clock.advance(200 * S)  # crash 200 s after the last extension: no close written
    journal.close_file()

    clock.advance(60 * S)
    recovered = open_journal(tmp_path, clock, boot_id)
    close = recovered.entries()[-1][1]
    assert isinstance(close, IntervalClose) and isinstance(last, IntervalExtend)
    assert close.interval == interval and close.reason is CloseReason.RECOVERED
    assert close.stamp == last.stamp  # availability ends at the evidence, not at restart
    assert recovered.open_interval is None and recovered.counters.recovered_intervals == 1
    recovered.close_file()
    assert open_journal(tmp_path, clock, boot_id).counters.recovered_intervals == 0


def test_anchor_when_time_becomes_trusted_and_on_wall_steps(tmp_path: Path,
                                                           boot_id: Path) -> None:
    clock = ManualClock(wall_ns=0, quality=TimeQuality.UNSYNCED)  # a Pi without RTC
    journal = open_journal(tmp_path, clock, boot_id, step_threshold_ns=S)
    journal.observe_clock()
    clock.advance(5 * S)
    journal.observe_clock()
    assert not any(isinstance(r, Anchor) for _s, r, _a in journal.entries())

    clock.step_wall(1_795_000_000 * S)  # chrony steps the clock and reports sync
    clock.set_quality(TimeQuality.SYNCED)
    journal.observe_clock()
    anchors = [r for _s, r, _a in journal.entries() if isinstance(r, Anchor)]
    events = [r for _s, r, _a in journal.entries() if isinstance(r, Event)]
    assert len(anchors) == 1 and anchors[0].stamp.quality is TimeQuality.SYNCED
    assert [e.code for e in events] == ["clock-step"]

    clock.advance(10 * S)
    clock.step_wall(S // 2)  # below the threshold: a slew, not a step
    journal.observe_clock()
    assert len([r for _s, r, _a in journal.entries() if isinstance(r, Anchor)]) == 1

    clock.advance(S)
    clock.step_wall(-3600 * S)  # someone runs `date -s` an hour back
    journal.observe_clock()
    anchors = [r for _s, r, _a in journal.entries() if isinstance(r, Anchor)]
    assert len(anchors) == 2 and journal.counters.clock_steps == 2
    assert anchors[-1].stamp.wall_ns == clock.wall_ns()

    clock.set_quality(TimeQuality.UNSYNCED)
    journal.observe_clock()
    clock.set_quality(TimeQuality.ESTIMATED)  # trusted again through the clock exchange
    journal.observe_clock()
    assert len([r for _s, r, _a in journal.entries() if isinstance(r, Anchor)]) == 3


def test_batches_are_oldest_first_within_limits_and_acks_mark_them(tmp_path: Path,
                                                                   boot_id: Path) -> None:
    clock = ManualClock()
    journal = open_journal(tmp_path, clock, boot_id)
    for i in range(9):
        journal.event("e", str(i))
    batch = journal.batch(0, max_records=4)
    assert batch is not None and [e.seq for e in batch.entries] == [1, 2, 3, 4]
    assert (batch.first, batch.last) == (1, 4)
    nxt = journal.batch(batch.last, max_records=4)
    assert nxt is not None and [e.seq for e in nxt.entries] == [5, 6, 7, 8]
    small = journal.batch(0, max_bytes=100)
    assert small is not None and 1 <= len(small.entries) < 4
    assert journal.backlog().records == 10
    assert journal.acknowledge([SeqRange(1, 4), SeqRange(7, 7)]) == 5
    assert journal.acknowledge([SeqRange(1, 4)]) == 0  # idempotent
    left = journal.batch(0)
    assert left is not None and [e.seq for e in left.entries] == [5, 6, 8, 9, 10]
    assert journal.backlog().records == 5


def test_backlog_age_follows_the_monotonic_clock(tmp_path: Path, boot_id: Path) -> None:
    clock = ManualClock()
    journal = open_journal(tmp_path, clock, boot_id)
    clock.advance(90 * S)
    assert journal.backlog().oldest_age_s == 90
    clock.step_wall(10_000 * S)  # a wall step does not age the backlog
    assert journal.backlog().oldest_age_s == 90
    journal.acknowledge([SeqRange(1, 1)])
    assert journal.backlog() == journal.backlog().__class__(0, 0, 0, True)


def test_drop_order_extensions_coalesce_first_then_events_never_plays_or_closes(
        tmp_path: Path, boot_id: Path) -> None:
    clock = ManualClock()
    journal = open_journal(tmp_path, clock, boot_id, max_records=30)
    interval = journal.open(Evidence.SINK)
    plays = []
    for i in range(30):
        clock.advance(300 * S)
        journal.extend()
        if i % 3 == 0:
            journal.event("note", str(i))
        if i % 10 == 0:
            plays.append(journal.append(play(clock, journal, f"slot-{i}")))
    stored = {seq: record for seq, record, _a in journal.entries()}
    extensions = [s for s, r in stored.items() if isinstance(r, IntervalExtend)]
    assert journal.counters.coalesced_extensions > 0
    assert journal.counters.dropped_events == 0  # coalescing was enough
    assert all(p in stored for p in plays)
    gaps = {s for g in journal.gaps() for s in range(g.first, g.last + 1)}
    assert gaps and gaps.isdisjoint(stored)
    assert set(range(1, journal.last_seq + 1)) == set(stored) | gaps  # continuity
    assert max(extensions) == max(s for s, r in stored.items() if isinstance(r, IntervalExtend))

    # Now only events can go: they go oldest first; plays, opens, closes never.
    for i in range(40):
        journal.event("flood", str(i))
        if i % 8 == 0:
            plays.append(journal.append(play(clock, journal, f"late-{i}")))
    journal.close(CloseReason.STOPPED)
    stored = {seq: record for seq, record, _a in journal.entries()}
    assert journal.counters.dropped_events > 0
    assert all(p in stored for p in plays)
    assert any(isinstance(r, IntervalOpen) and s == interval for s, r in stored.items())
    assert isinstance(stored[journal.last_seq], IntervalClose)
    surviving_events = sorted(s for s, r in stored.items() if isinstance(r, Event))
    dropped = {s for g in journal.gaps() for s in range(g.first, g.last + 1)}
    assert all(d < min(surviving_events) or d not in stored for d in dropped)
    assert set(range(1, journal.last_seq + 1)) == set(stored) | dropped
    # The declared gaps travel in batches, with the records around them.
    batch = journal.batch(0, max_records=2000)
    assert batch is not None and batch.gaps
    assert {s for g in batch.gaps for s in range(g.first, g.last + 1)} == dropped


def test_acknowledged_records_are_pruned_before_anything_is_dropped(tmp_path: Path,
                                                                    boot_id: Path) -> None:
    clock = ManualClock()
    journal = open_journal(tmp_path, clock, boot_id, max_records=50)
    journal.open(Evidence.PROCESS)
    for _ in range(45):
        clock.advance(S)
        journal.extend()
    journal.acknowledge([SeqRange(1, journal.last_seq)])
    for _ in range(10):
        journal.event("e")
    assert journal.counters.pruned_acked > 0
    assert journal.counters.coalesced_extensions == journal.counters.dropped_events == 0
    assert journal.gaps() == []


def test_a_full_disk_prunes_and_retries_then_queues_never_dropped_records(
        tmp_path: Path, boot_id: Path) -> None:
    clock = ManualClock()
    journal = open_journal(tmp_path, clock, boot_id, max_pages=24)
    journal.open(Evidence.SINK)
    appended = 0
    while journal.counters.disk_full == 0:
        clock.advance(S)
        assert journal.append(Event(journal.stamp(), "fill", "x" * 400)) is not None
        appended += 1
        assert appended < 10_000
    # The first disk-full was handled by dropping events: the append still succeeded.
    assert journal.counters.dropped_events > 0 and journal.pending == 0
    # Fill the disk with records that are never dropped, until nothing can be freed.
    results = []
    for i in range(5000):
        results.append(journal.append(play(clock, journal, f"p{i}")))
        if results[-1] is None:
            break
    assert results[-1] is None, "the tiny database never filled up"
    assert journal.pending == 1 and journal.counters.not_durable >= 1
    assert journal.event("meanwhile") is None  # events are not queued, only counted
    journal.close(CloseReason.STOPPED)  # a close is queued, in order
    assert journal.pending == 2
    # Space returns (the controller acknowledged): queued records are written, in order.
    journal.acknowledge([SeqRange(1, journal.last_seq)])
    journal._prune_acked()
    assert journal.flush_pending()
    tail = [r for _s, r, _a in journal.entries()][-2:]
    assert isinstance(tail[0], Play) and isinstance(tail[1], IntervalClose)
    assert journal.open_interval is None


def test_invalid_records_are_refused_and_event_codes_sanitised(tmp_path: Path,
                                                               boot_id: Path) -> None:
    clock = ManualClock()
    journal = open_journal(tmp_path, clock, boot_id)
    with pytest.raises(InvalidRecord):
        journal.append(Event(journal.stamp(), "Bad Code!", ""))
    with pytest.raises(InvalidRecord):
        journal.append(IntervalOpen(journal.stamp(), Evidence.SINK))
    with pytest.raises(InvalidRecord):
        journal.append(Play(journal.stamp(), "x" * 200, None, 0, None, None,
                            PlayOutcome.AIRED, "", Evidence.SINK))
    assert event_code("Sink Error: ALSA!") == "sink-error--alsa-"
    assert journal.event("Sink Error: ALSA!") is not None
    assert journal.last_seq == 2  # nothing invalid consumed a seq


def test_to_ranges() -> None:
    assert to_ranges([5, 1, 2, 3, 7, 8, 3]) == [SeqRange(1, 3), SeqRange(5, 5), SeqRange(7, 8)]
    assert to_ranges([]) == []


def test_a_record_is_durable_once_append_returns(tmp_path: Path, boot_id: Path) -> None:
    """A process appends and reports each seq, then dies by SIGKILL mid-stream."""
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from agent.journal import Journal
        from protocols.clock import ManualClock
        j = Journal(Path({str(tmp_path / 'journal.db')!r}), ManualClock(),
                    boot_id_path=Path({str(boot_id)!r}))
        while True:
            seq = j.event("tick", "x" * 100)
            sys.stdout.write(f"{{seq}}\\n"); sys.stdout.flush()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    reported = [int(proc.stdout.readline()) for _ in range(200)]
    proc.kill()
    proc.wait()
    journal = open_journal(tmp_path, ManualClock(), boot_id)
    stored = {seq for seq, _r, _a in journal.entries()}
    assert set(reported) <= stored  # everything reported as appended survived SIGKILL
    assert stored == set(range(1, max(stored) + 1))
