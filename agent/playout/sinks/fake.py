"""A clocked fake sound card: the audio truth of the tests and benchmarks (DESIGN §6).

The simulated device has its own crystal: device frame ``d`` is presented at
``t0 + d / (48 kHz * (1 + drift_ppm))`` on the monotonic clock, and it pulls one period
from the FIFO ``latency`` before presenting it. A written frame is available to a pull
only if it *arrived* (``write`` was called) before that pull: a late writer underruns,
exactly like a real card, even though consumption is computed lazily whenever the sink
is touched rather than by a thread waking every period. What was presented when is kept
compactly as runs (written frames ``w..w+n`` -> device frames ``d..d+n``); audio is kept
as segments (silence costs nothing), optionally only inside chosen time windows.
"""

from __future__ import annotations

import bisect
import threading
import wave
from collections import deque
from pathlib import Path

from protocols.clock import Clock, SystemClock

from ..pcm import FRAME_BYTES, NS_PER_SECOND, RATE
from .base import SinkError, SinkTiming


class ClockedFakeSink:
    """A device pulling 48 kHz frames (±``drift_ppm``) against the monotonic clock.

    ``period_frames`` is the pull granularity, ``latency_frames`` the device's own buffer
    (pull to presentation), ``capacity_frames`` the FIFO size. ``record`` keeps the
    audio; ``record_windows`` (monotonic ``(start, end)`` pairs) limits it to those
    presentation times, so a 10-minute benchmark on 50 sinks stays small.
    """

    def __init__(self, clock: Clock | None = None, *, drift_ppm: float = 0.0,
                 period_frames: int = 480, latency_frames: int = 960,
                 capacity_frames: int = RATE, start_delay_ns: int = 20_000_000,
                 record: bool = True,
                 record_windows: list[tuple[int, int]] | None = None,
                 name: str = "fake") -> None:
        self.name = name
        self.real = True  # it models a card; tests treat its stamps as the audio truth
        self._clock = clock if clock is not None else SystemClock(trust="always")
        self.drift_ppm = drift_ppm
        self._ns_per_frame = NS_PER_SECOND / (RATE * (1.0 + drift_ppm * 1e-6))
        self._period = period_frames
        self._latency_ns = round(latency_frames * NS_PER_SECOND / RATE)
        self._capacity = capacity_frames
        self._start_delay = start_delay_ns
        self._record = record
        self._windows = sorted(record_windows) if record_windows else None
        self._lock = threading.Lock()
        self._t0: int | None = None
        self._fifo: deque[list[object]] = deque()  # [arrival_ns, first_written_frame, bytes]
        self._written = 0
        self._consumed = 0
        self._next_period = 0
        self._runs_w: list[int] = []
        self._runs_d: list[int] = []
        self._runs_n: list[int] = []
        self._segments: list[tuple[int, bytearray]] = []  # (device frame, audio)
        self._underruns = 0
        self._started = False
        self._closed = False
        self._closed_at: int | None = None

    # ------------------------------------------------------------------ Sink protocol
    def open(self) -> None:
        with self._lock:
            if self._t0 is None:
                self._t0 = self._clock.monotonic_ns() + self._start_delay
                return
            if not self._closed:
                return
            # Reopened (after a failure): the crystal kept running; nothing queued
            # survives, and the device resumes pulling from now on.
            now = self._clock.monotonic_ns()
            self._fifo.clear()
            self._consumed = self._written
            resume = self.device_frame_at(now + self._latency_ns)
            self._next_period = max(self._next_period, int(resume // self._period) + 1)
            self._closed, self._closed_at, self._started = False, None, False

    def close(self) -> None:
        with self._lock:
            if self._t0 is not None:
                self._advance(self._clock.monotonic_ns())
            self._closed = True  # the timeline and recording stay for inspection
            self._closed_at = self._clock.monotonic_ns()

    def write(self, pcm: bytes) -> int:
        with self._lock:
            if self._t0 is None or self._closed:
                raise SinkError("fake sink not open")
            now = self._clock.monotonic_ns()
            self._advance(now)
            frames = min(len(pcm) // FRAME_BYTES, self._capacity - (self._written - self._consumed))
            if frames <= 0:
                return 0
            self._fifo.append([now, self._written, pcm[:frames * FRAME_BYTES]])
            self._written += frames
            return frames

    def space(self) -> int:
        with self._lock:
            self._advance(self._clock.monotonic_ns())
            return self._capacity - (self._written - self._consumed)

    def frames_written(self) -> int:
        with self._lock:
            return self._written

    def retract(self, max_frames: int) -> int:
        with self._lock:
            self._advance(self._clock.monotonic_ns())
            taken = 0
            while self._fifo and taken < max_frames:
                entry = self._fifo[-1]
                data = entry[2]
                assert isinstance(data, bytes)
                n = len(data) // FRAME_BYTES
                k = min(n, max_frames - taken)
                if k == n:
                    self._fifo.pop()
                else:
                    entry[2] = data[:(n - k) * FRAME_BYTES]
                taken += k
            self._written -= taken
            return taken

    def timing(self) -> SinkTiming | None:
        with self._lock:
            self._advance(self._clock.monotonic_ns())
            if not self._runs_w:
                return None
            w = self._runs_w[-1] + self._runs_n[-1] - 1
            d = self._runs_d[-1] + self._runs_n[-1] - 1
            return SinkTiming(w, self.device_time_ns(d), len(self._runs_w) - 1)

    def presented_at(self, frame: int) -> int | None:
        with self._lock:
            self._advance(self._clock.monotonic_ns())
            d = self._device_frame_of(frame)
            return None if d is None else self.device_time_ns(d)

    def underruns(self) -> int:
        with self._lock:
            self._advance(self._clock.monotonic_ns())
            return self._underruns

    # ------------------------------------------------------------------ inspection
    def device_time_ns(self, device_frame: float) -> int:
        """Presentation time of a device frame: the simulated crystal, exactly."""
        if self._t0 is None:
            raise SinkError("fake sink never opened")
        return self._t0 + round(device_frame * self._ns_per_frame)

    def device_frame_at(self, mono_ns: int) -> float:
        if self._t0 is None:
            raise SinkError("fake sink never opened")
        return (mono_ns - self._t0) / self._ns_per_frame

    def device_frame_of(self, written_frame: int) -> int | None:
        with self._lock:
            self._advance(self._clock.monotonic_ns())
            return self._device_frame_of(written_frame)

    def runs(self) -> list[tuple[int, int, int]]:
        """``(first written frame, first device frame, frames)`` of each contiguous run."""
        with self._lock:
            self._advance(self._clock.monotonic_ns())
            return list(zip(self._runs_w, self._runs_d, self._runs_n, strict=True))

    def recording(self, device_start: int, frames: int) -> bytes:
        """Device frames ``[device_start, device_start + frames)`` as presented (zeros
        where the device played silence or nothing was recorded)."""
        with self._lock:
            self._advance(self._clock.monotonic_ns())
            out = bytearray(frames * FRAME_BYTES)
            end = device_start + frames
            keys = [s[0] for s in self._segments]
            i = max(bisect.bisect_right(keys, device_start) - 1, 0)
            for d, data in self._segments[i:]:
                if d >= end:
                    break
                n = len(data) // FRAME_BYTES
                lo, hi = max(d, device_start), min(d + n, end)
                if hi > lo:
                    out[(lo - device_start) * FRAME_BYTES:(hi - device_start) * FRAME_BYTES] = \
                        data[(lo - d) * FRAME_BYTES:(hi - d) * FRAME_BYTES]
            return bytes(out)

    def segments(self) -> list[tuple[int, bytes]]:
        """What was recorded: ``(first device frame, s16 audio)`` per stretch of sound."""
        with self._lock:
            self._advance(self._clock.monotonic_ns())
            return [(d, bytes(data)) for d, data in self._segments]

    def first_sound_after(self, device_start: int, threshold: int = 0) -> int | None:
        """The first device frame at or after ``device_start`` whose |sample| > threshold."""
        with self._lock:
            self._advance(self._clock.monotonic_ns())
            keys = [d for d, _ in self._segments]
            i = max(bisect.bisect_right(keys, device_start) - 1, 0)
            candidates = self._segments[i:]
        for d, data in candidates:
            n = len(data) // FRAME_BYTES
            if d + n <= device_start:
                continue
            skip = max(device_start - d, 0)
            with self._lock:
                view = memoryview(bytes(data[skip * FRAME_BYTES:])).cast("h")
            for k, value in enumerate(view):
                if value > threshold or value < -threshold:
                    return d + skip + k
        return None

    def export_wav(self, path: Path, device_start: int = 0, frames: int | None = None) -> None:
        """Write the recording (device time axis) as a 48 kHz mono WAV file."""
        if frames is None:
            with self._lock:
                last = self._runs_d[-1] + self._runs_n[-1] if self._runs_d else 0
            frames = max(last - device_start, 0)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(FRAME_BYTES)
            w.setframerate(RATE)
            w.writeframes(self.recording(device_start, frames))

    # ------------------------------------------------------------------ the device
    def _device_frame_of(self, frame: int) -> int | None:
        i = bisect.bisect_right(self._runs_w, frame) - 1
        if i < 0 or frame >= self._runs_w[i] + self._runs_n[i]:
            return None
        return self._runs_d[i] + frame - self._runs_w[i]

    def _advance(self, now: int) -> None:
        """Run every period pull that is due by ``now``, honouring arrival times."""
        if self._t0 is None:
            return
        if self._closed_at is not None:
            now = min(now, self._closed_at)  # a closed device pulls nothing more
        while True:
            d0 = self._next_period * self._period
            pull_at = self.device_time_ns(d0) - self._latency_ns
            if pull_at > now:
                return
            self._next_period += 1
            need = self._period
            d = d0
            while need and self._fifo:
                entry = self._fifo[0]
                arrival, w, data = entry
                assert isinstance(arrival, int) and isinstance(w, int) and isinstance(data, bytes)
                if arrival > pull_at:
                    break
                n = len(data) // FRAME_BYTES
                k = min(n, need)
                self._map(w, d, data[:k * FRAME_BYTES])
                if k == n:
                    self._fifo.popleft()
                else:
                    entry[1] = w + k
                    entry[2] = data[k * FRAME_BYTES:]
                self._consumed += k
                need -= k
                d += k
            if need and self._started:
                self._underruns += 1
            if need < self._period:
                self._started = True

    def _map(self, w: int, d: int, data: bytes) -> None:
        n = len(data) // FRAME_BYTES
        if self._runs_w and self._runs_w[-1] + self._runs_n[-1] == w \
                and self._runs_d[-1] + self._runs_n[-1] == d:
            self._runs_n[-1] += n
        else:
            self._runs_w.append(w)
            self._runs_d.append(d)
            self._runs_n.append(n)
        if not self._record or data.count(0) == len(data):
            return
        if self._windows is not None:
            t_lo, t_hi = self.device_time_ns(d), self.device_time_ns(d + n)
            if not any(lo < t_hi and t_lo < hi for lo, hi in self._windows):
                return
        if self._segments:
            last_d, last = self._segments[-1]
            if last_d + len(last) // FRAME_BYTES == d:
                last += data  # in place: amortised O(1)
                return
        self._segments.append((d, bytearray(data)))
