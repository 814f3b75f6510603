"""The contract between the playout engine and an audio output.

A sink is a device that *pulls* frames from a FIFO at its own crystal's rate. The engine
never learns timing from its own ``write`` calls (that measures Python scheduling, not
playout, DESIGN §6); it learns it from the sink's presentation anchors: "written frame
``frame`` is (or was) presented at ``mono_ns`` on the engine clock's monotonic scale",
taken by the device side (PortAudio's DAC time, or the fake's simulated crystal).

Frame indices count every frame ever written to the sink since ``open`` (minus any
``retract``-ed ones). ``epoch`` changes whenever the mapping from written frames to
device time broke (an underrun inserted silence), so anchors of different epochs never
belong on one line.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable


class SinkError(Exception):
    """The audio device failed (opening, or while running)."""


class SinkTiming(NamedTuple):
    frame: int
    mono_ns: int
    epoch: int


@runtime_checkable
class Sink(Protocol):
    name: str
    real: bool  # False for the null sink: its "presentation" is no evidence of sound

    def open(self) -> None:
        """Start the device; it pulls silence until frames are written."""
        ...

    def close(self) -> None: ...

    def write(self, pcm: bytes) -> int:
        """Queue s16le mono 48 kHz frames; never blocks; returns the frames accepted."""
        ...

    def space(self) -> int:
        """Frames ``write`` would accept now."""
        ...

    def frames_written(self) -> int: ...

    def retract(self, max_frames: int) -> int:
        """Take back up to ``max_frames`` not-yet-pulled frames from the FIFO's tail.

        Lets an emergency or a stop take effect within a device period instead of
        after everything already queued; returns how many frames were taken back.
        """
        ...

    def timing(self) -> SinkTiming | None:
        """The latest presentation anchor, or None before the device pulled anything."""
        ...

    def presented_at(self, frame: int) -> int | None:
        """When written frame ``frame`` is/was presented, once the device pulled it."""
        ...

    def underruns(self) -> int: ...
