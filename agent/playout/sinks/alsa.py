"""ALSA output through sounddevice (PortAudio), with DAC presentation times.

PortAudio calls ``_callback`` on its own thread for every device buffer and tells when
that buffer's first frame reaches the DAC (``outputBufferDacTime``) relative to its
``currentTime``. We read the engine clock's monotonic time in the same callback and add
that difference, which gives presentation anchors on the engine's time scale whatever
PortAudio's own time base is. sounddevice is imported only in ``open()``, so the agent
runs (with the null sink) where PortAudio or a sound card is absent.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from protocols.clock import Clock

from ..pcm import FRAME_BYTES, NS_PER_SECOND, RATE
from .base import SinkError, SinkTiming

_ANCHORS_KEPT = 4096  # callbacks remembered for presented_at (tens of seconds)


class SoundDeviceSink:
    """PortAudio callback stream with a Python FIFO the engine fills.

    ``device`` is a PortAudio device name or index (e.g. ``"hw:0,0"`` or ``"default"``);
    ``latency`` is PortAudio's suggested output latency (seconds or ``"low"``/``"high"``).
    """

    real = True

    def __init__(self, clock: Clock, *, device: str | int | None = None,
                 latency: float | str = "high", blocksize: int = 0,
                 capacity_frames: int = RATE) -> None:
        self.name = f"alsa:{device if device is not None else 'default'}"
        self._clock = clock
        self._device = device
        self._latency = latency
        self._blocksize = blocksize
        self._capacity = capacity_frames
        self._lock = threading.Lock()
        self._fifo = bytearray()
        self._written = 0
        self._consumed = 0
        self._epoch = 0
        self._gap = False
        self._started = False
        self._underruns = 0
        self._anchors: deque[tuple[int, int, int]] = deque(maxlen=_ANCHORS_KEPT)
        self._stream: Any = None
        self._failure: str | None = None

    # ------------------------------------------------------------------ Sink protocol
    def open(self) -> None:
        try:
            import sounddevice
        except (ImportError, OSError) as exc:  # OSError: PortAudio library missing
            raise SinkError(f"sounddevice/PortAudio unavailable: {exc}") from exc
        try:
            self._stream = sounddevice.RawOutputStream(
                samplerate=RATE, channels=1, dtype="int16", device=self._device,
                latency=self._latency, blocksize=self._blocksize, callback=self._callback,
                finished_callback=self._finished)
            self._stream.start()
        except Exception as exc:  # PortAudioError and friends
            self._stream = None
            raise SinkError(f"cannot open {self.name}: {exc}") from exc

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:
                raise SinkError(f"closing {self.name}: {exc}") from exc

    def write(self, pcm: bytes) -> int:
        self._check()
        with self._lock:
            frames = min(len(pcm) // FRAME_BYTES, self._capacity - len(self._fifo) // FRAME_BYTES)
            if frames <= 0:
                return 0
            self._fifo += pcm[:frames * FRAME_BYTES]
            self._written += frames
            return frames

    def space(self) -> int:
        with self._lock:
            return self._capacity - len(self._fifo) // FRAME_BYTES

    def frames_written(self) -> int:
        with self._lock:
            return self._written

    def retract(self, max_frames: int) -> int:
        with self._lock:
            k = min(max_frames, len(self._fifo) // FRAME_BYTES)
            if k:
                del self._fifo[len(self._fifo) - k * FRAME_BYTES:]
                self._written -= k
            return k

    def timing(self) -> SinkTiming | None:
        self._check()
        with self._lock:
            if not self._anchors:
                return None
            w, t, epoch = self._anchors[-1]
            return SinkTiming(w, t, epoch)

    def presented_at(self, frame: int) -> int | None:
        with self._lock:
            if frame >= self._consumed:
                return None
            for w, t, _epoch in reversed(self._anchors):
                if w <= frame:
                    return t + round((frame - w) * NS_PER_SECOND / RATE)
            return None

    def underruns(self) -> int:
        with self._lock:
            return self._underruns

    # ------------------------------------------------------------------ PortAudio side
    def _check(self) -> None:
        if self._failure is not None:
            raise SinkError(self._failure)

    def _finished(self) -> None:
        if self._stream is not None:
            self._failure = f"{self.name} stream stopped by the device"

    def _callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        """Runs on PortAudio's thread: copy what is queued, stamp it, zero-fill the rest."""
        now = self._clock.monotonic_ns()
        dac, current = time.outputBufferDacTime, time.currentTime
        delay = (dac - current) if dac and current else (self._stream.latency if self._stream
                                                          else 0.0)
        present = now + round(delay * NS_PER_SECOND)
        with self._lock:
            if status and getattr(status, "output_underflow", False) and self._started:
                self._underruns += 1  # the device already played a gap before this buffer
                self._gap = True
            take = min(frames, len(self._fifo) // FRAME_BYTES)
            nbytes = take * FRAME_BYTES
            if take:
                if self._gap:
                    self._epoch += 1
                    self._gap = False
                self._anchors.append((self._consumed, present, self._epoch))
                outdata[:nbytes] = bytes(self._fifo[:nbytes])
                del self._fifo[:nbytes]
                self._consumed += take
                self._started = True
            if take < frames:
                outdata[nbytes:frames * FRAME_BYTES] = bytes(frames * FRAME_BYTES - nbytes)
                if self._started:
                    self._underruns += 1
                    self._gap = True
