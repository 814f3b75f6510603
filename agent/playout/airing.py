"""The engine's bookkeeping: what may air (``Entry``), what airs (``Airing``), and what
aired and waits for its presentation stamps (``Closing``).

An entry's *origin* is the instant its sample 0 is due. Plan slots are anchored to the
wall clock (their start as the ``Clock`` reads it, re-read every chunk so clock
corrections apply); emergencies to the monotonic clock (they must not wait for trusted
time); restarts and queued slots float until they actually start.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.messages import HardTimePolicy, PlayOutcome, Priority

from .pcm import NS_PER_FRAME
from .slots import EmergencyRequest
from .sources import Source


@dataclass(eq=False)
class Entry:
    """Something that may air: a plan slot, a restart, a queued slot, an emergency."""

    key: str
    content: bytes
    priority: Priority
    policy: HardTimePolicy
    scheduled_ns: int  # wall: what the record reports as scheduled
    window_end_ns: int
    limit_frames: int | None
    peers: int = 0
    extrapolated: bool = False
    emergency: EmergencyRequest | None = None
    due_wall: int | None = None  # when its sample ``start_sample`` is due (wall-anchored)...
    due_mono: int | None = None  # ...or monotonic-anchored
    floating: bool = False  # origin chosen when it starts (restarts, queued, emergencies)
    start_sample: int = 0
    from_timeline: bool = False
    source: Source | None = None
    note: str = ""
    joined: bool = False
    preempted_by: str | None = None  # set on the restart entry of a pre-empted slot
    interrupted: Airing | None = None  # ...with the part that was heard before it

    def due(self, off: int) -> int | None:
        """Monotonic due time of the entry's first sample (``off`` = wall - mono)."""
        if self.due_mono is not None:
            return self.due_mono
        if self.due_wall is not None:
            return self.due_wall - off + round(self.start_sample * NS_PER_FRAME)
        return None


@dataclass(eq=False)
class Airing:
    entry: Entry
    source: Source
    origin_wall: int | None
    origin_mono: int | None
    s: int
    volume: int | None
    first_frame: int | None = None
    end_frame: int = 0
    corrections: int = 0
    resyncs: int = 0
    skip: int = 0  # source samples to discard: their time has passed
    starved: int = 0  # frames of gap since the decoder last delivered

    def origin(self, off: int) -> int:
        if self.origin_mono is not None:
            return self.origin_mono
        assert self.origin_wall is not None
        return self.origin_wall - off


@dataclass(eq=False)
class Closing:
    """An airing that ended in the render, waiting for the sink to present its frames."""

    entry: Entry
    outcome: PlayOutcome
    reason: str
    first_frame: int | None
    end_frame: int
    deadline: int
