"""Availability from journal records, by monotonic time and anchors (test-side for now).

The controller's real computation comes later; this one exists to state the rule the
agent's journal is built for and to test against it:

* an interval lasts from its ``IntervalOpen`` to its ``IntervalClose`` (or, while still
  open, its latest ``IntervalExtend``); its **length** is the monotonic difference of
  those stamps, which lie in one boot, so a wall-clock step cannot lengthen or shorten it;
* it is **placed** on the calendar through the latest ``Anchor`` of its boot
  (``wall = anchor.wall - (anchor.mono - mono)``); a boot without an anchor is
  *unanchored*: its spans are reported, and count as down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from protocols.messages import (
    Anchor,
    Evidence,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
    JournalRecord,
)
from protocols.timefields import Stamp


@dataclass(frozen=True)
class Span:
    interval: int
    boot: int
    start_mono: int
    end_mono: int
    start_wall: int | None  # None when unanchored
    evidence: Evidence
    closed: bool

    @property
    def length_ns(self) -> int:
        return self.end_mono - self.start_mono

    @property
    def end_wall(self) -> int | None:
        return None if self.start_wall is None else self.start_wall + self.length_ns


def spans(records: Mapping[int, JournalRecord]) -> list[Span]:
    anchors: dict[int, Stamp] = {}
    opens: dict[int, IntervalOpen] = {}
    closes: dict[int, Stamp] = {}
    extended: dict[int, Stamp] = {}
    for seq in sorted(records):
        record = records[seq]
        if isinstance(record, Anchor) and record.stamp.quality.trusted:
            anchors[record.stamp.boot] = record.stamp  # the latest anchor of its boot
        elif isinstance(record, IntervalOpen):
            opens[seq] = record
        elif isinstance(record, IntervalClose):
            closes[record.interval] = record.stamp
        elif isinstance(record, IntervalExtend):
            extended[record.interval] = record.stamp  # seq order: the latest wins
    found = []
    for seq, opened in sorted(opens.items()):
        start = opened.stamp
        end = closes.get(seq) or extended.get(seq) or start
        if end.boot != start.boot:
            raise AssertionError(f"interval {seq} spans two boots")
        anchor = anchors.get(start.boot)
        wall = None if anchor is None else anchor.wall_ns - (anchor.mono_ns - start.mono_ns)
        found.append(Span(seq, start.boot, start.mono_ns, max(end.mono_ns, start.mono_ns),
                          wall, opened.evidence, seq in closes))
    return found


def available_ns(found: list[Span], window: tuple[int, int] | None = None) -> int:
    """Anchored availability, union of spans, optionally clipped to a wall window."""
    placed = sorted((s.start_wall, s.end_wall) for s in found
                    if s.start_wall is not None and s.end_wall is not None)
    total = 0
    cursor: int | None = None
    for start, end in placed:
        if window is not None:
            start, end = max(start, window[0]), min(end, window[1])
        if end <= start:
            continue
        if cursor is not None and start < cursor:
            start = cursor
        if end > start:
            total += end - start
            cursor = end
    return total


def naive_wall_ns(records: Mapping[int, JournalRecord]) -> int:
    """What trusting each stamp's wall clock would give: the positive control."""
    opens = {seq: r for seq, r in records.items() if isinstance(r, IntervalOpen)}
    total = 0
    for seq, opened in opens.items():
        last = opened.stamp
        for r in records.values():
            if isinstance(r, (IntervalExtend, IntervalClose)) and r.interval == seq:
                last = r.stamp if r.stamp.mono_ns >= last.mono_ns else last
        total += last.wall_ns - opened.stamp.wall_ns
    return total
