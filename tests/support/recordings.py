"""Reading back what an agent process's stand-in sound card presented.

Agents run with ``[audio] sink = "fake"`` and ``record_dir`` write their card's recording
(``agent.broadcaster.Recording``: segments of s16 mono 48 kHz audio, each stamped with the
machine's monotonic time of its first frame) after every play record and at stop. These
helpers find an item in it by cross-correlation with a reference (the item decoded), on
the machine's true clock: never from the agent's own bookkeeping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import msgspec

from agent.broadcaster import Recording
from tests.playout.audio_compare import best_lag

RATE = 48_000


def recordings_in(folder: Path) -> list[Recording]:
    """Every run's recording in ``folder`` (one file per agent process)."""
    return [msgspec.msgpack.decode(p.read_bytes(), type=Recording)
            for p in sorted(folder.glob("fake-sink-*.msgpack"))]


def wall_minus_boottime() -> int:
    """True wall time minus CLOCK_BOOTTIME (the agents' monotonic clock), ns."""
    best: tuple[int, int] | None = None
    for _ in range(5):
        a = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        wall = time.time_ns()
        b = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        if best is None or b - a < best[0]:
            best = (b - a, wall - (a + b) // 2)
    assert best is not None
    return best[1]


def render(segments: list[tuple[int, bytes]], step: float, start_mono: int,
           frames: int) -> bytes:
    """The recording on a frame grid from ``start_mono`` (zeros where nothing was heard)."""
    out = bytearray(frames * 2)
    for first, audio in segments:
        offset = round((first - start_mono) / step)
        n = len(audio) // 2
        lo, hi = max(offset, 0), min(offset + n, frames)
        if hi > lo:
            out[lo * 2:hi * 2] = audio[(lo - offset) * 2:(hi - offset) * 2]
    return bytes(out)


@dataclass(frozen=True)
class Heard:
    first_mono_ns: int  # when the item's first sample was presented (CLOCK_BOOTTIME)
    correlations: list[float]  # of each stretch with the reference
    shifts_ns: list[float]  # how far each stretch was from where it was due

    @property
    def matching(self) -> float:
        """The share of stretches that are the item's audio (a correction of a sample or
        two inside a 20 ms stretch blurs that one stretch, nothing more)."""
        return sum(c > 0.9 for c in self.correlations) / len(self.correlations)

    @property
    def max_shift_ns(self) -> float:
        """The farthest a matching stretch was from where it was due."""
        return max((s for c, s in zip(self.correlations, self.shifts_ns, strict=True)
                    if c > 0.9), default=float("inf"))


def heard(runs: list[Recording], reference: bytes, due_mono_ns: int,
          bound_ns: int = 250_000_000) -> Heard:
    """Find ``reference`` (s16 mono 48 kHz) in the recordings near ``due_mono_ns``.

    Where reference sample ``k`` (1 s in) was heard is searched within ±``bound_ns`` of
    its due time; from there, every eighth of a second of the item, 20 ms at a time, is
    matched within ±5 ms of where it is due: playout inserts or drops single samples to
    follow its clock, so one rigid alignment over a whole item would not hold.
    """
    segments = [s for r in runs for s in r.segments]
    if not segments:
        raise AssertionError("the card presented nothing")
    step = runs[0].ns_per_frame
    k, window = min(RATE, len(reference) // 4), RATE // 10
    span = round(bound_ns / step)
    start = due_mono_ns + round((k - span) * step)
    found = render(segments, step, start, window + 2 * span)
    lag, _corr = best_lag(found, reference[k * 2:(k + window) * 2])
    first_mono = start + round((lag - k) * step)
    chunk, search = RATE // 50, RATE // 200
    correlations, shifts = [], []
    for at in range(0, len(reference) // 2 - chunk, RATE // 8):
        origin = first_mono + round((at - search) * step)
        stretch = render(segments, step, origin, chunk + 2 * search)
        lag, corr = best_lag(stretch, reference[at * 2:(at + chunk) * 2])
        correlations.append(corr)
        shifts.append(abs(lag - search) * step)
    return Heard(first_mono, correlations, shifts)
