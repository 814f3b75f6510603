"""Placing availability spans in wall time, from monotonic time and the boot's anchors.

A span's own wall stamps are not evidence: before time is trusted they may be years off,
and a step (``date -s``, a misbehaving source) moves them. What is evidence is monotonic
time within one boot, plus the boot's ``Anchor`` records, each pairing a monotonic
instant with a trusted wall time.

The whole boot is placed from one *reference* anchor: the earliest anchor of the best
time quality the boot reached (loaxa's clock exchange is good, chrony is better). Later
anchors of the same quality, written when the agent saw its wall clock step, do not
move anything: the monotonic clock did not step, so neither did the truth. Spans before
the reference are placed backwards from it (re-anchored). A wall-clock step therefore
changes nothing, and a boot with no anchor at all cannot be placed: its time is
reported as *unanchored* and counts as down.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Anchor:
    mono_ns: int
    wall_ns: int
    quality: int = 2


@dataclass(frozen=True)
class Span:
    """An availability interval of one boot, by monotonic time."""

    interval: int
    start_mono_ns: int
    end_mono_ns: int
    evidence: int


@dataclass(frozen=True, order=True)
class Piece:
    """A placed span: ``[start_ns, end_ns)`` in UTC wall time."""

    start_ns: int
    end_ns: int
    evidence: int
    interval: int


def reference(anchors: Iterable[Anchor]) -> Anchor | None:
    """The anchor a boot is placed from: best quality first, then the earliest."""
    return min(anchors, key=lambda a: (-a.quality, a.mono_ns, a.wall_ns), default=None)


def place(spans: Iterable[Span], anchors: Iterable[Anchor]) -> list[Piece] | None:
    """The placed spans of one boot, or None when the boot has no anchor."""
    ref = reference(anchors)
    if ref is None:
        return None
    offset = ref.wall_ns - ref.mono_ns
    return sorted(Piece(span.start_mono_ns + offset, span.end_mono_ns + offset, span.evidence,
                        span.interval)
                  for span in spans if span.end_mono_ns > span.start_mono_ns)
