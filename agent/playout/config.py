"""The engine's tunables and its public status snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from protocols.messages import Priority


@dataclass(frozen=True)
class EngineConfig:
    """Tunables; defaults suit a Pi with a USB card. Times in ms unless named ``_s``."""

    volume: int = 80
    emergency_volume: int = 100
    amp_lead_ms: int = 2000
    amp_tail_ms: int = 3000
    grace_s: float = 30.0  # a late, unshared slot restarts when at most this late
    preroll_s: float = 5.0  # decoders start this long before a slot's start
    join_preroll_ms: int = 600  # a late shared slot joins this far ahead of "now"
    ahead_ms: int = 150  # FIFO fill beyond the frame being presented (> tick + jitter)
    chunk_frames: int = 480  # 10 ms: the granularity of decisions and corrections
    wait_fill_ms: int = 40  # FIFO fill beyond the card's own buffer while a start is
    # imminent (emergency, stop, restart): what an emergency waits behind
    cut_fill_ms: int = 10  # ...and when an emergency's audio is ready at once: what
    # stays queued beyond the card's buffer to bridge to its first write
    warm_ms: int = 500  # pre-decoded start of each item an emergency may air (the
    # plan's pins), so its first write needs no decoding...
    warm_items: int = 8  # ...for at most this many items (8 x 500 ms = 384 kB)
    tick_ms: int = 20  # 2 chunks per tick: halves the per-tick overhead of 10 ms
    drift_correction: bool = True
    max_correction_ppm: int = 2000  # cap on the rate of single-sample corrections
    resync_ms: float = 20.0  # beyond this error, jump instead of slewing
    emergency_waits_for_amp: bool = True  # first emergency sample >= amp on + lead
    record_timeout_s: float = 5.0  # give up waiting for presentation stamps
    sink_retry_s: float = 5.0
    boot: int = 0  # journal boot number for record stamps


@dataclass(frozen=True)
class NowPlaying:
    slot_id: str
    content: bytes
    priority: Priority
    emergency: bool
    scheduled_ns: int
    position_ms: int
