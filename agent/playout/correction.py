"""Snapcast-style drift correction: insert or drop single samples, never resample.

At the start of every chunk the engine knows the source sample it is about to write and
the sample that is due at that frame's presentation time; their difference ``err`` (in
samples) decides what to do with the chunk. A single duplicated or dropped sample in
480 is inaudible in speech; a rate cap keeps corrections sparse, and an error beyond the
resync threshold (a stepped clock, a decoder that fell behind) is fixed in one jump.
"""

from __future__ import annotations

from .pcm import FRAME_BYTES, frames_in

DEADBAND = 0.75  # samples: below this the sample is as close as it can be


def plan_corrections(err: float, frames: int, max_ppm: int) -> tuple[int, int]:
    """``(insert, drop)`` single-sample corrections for a chunk of ``frames`` frames.

    ``err`` > 0: the next sample would be heard early, so samples are inserted; < 0:
    late, so samples are dropped. At most ``max(1, frames * max_ppm / 1e6)`` per chunk.
    """
    budget = max(1, frames * max_ppm // 1_000_000)
    steps = min(int(abs(err) + (1.0 - DEADBAND)), budget)
    return (steps, 0) if err > 0 else (0, steps)


def spread_corrections(data: bytes, insert: int, drop: int) -> bytes:
    """Insert (duplicate) or drop single samples spread evenly through ``data``."""
    frames = frames_in(data)
    k = insert or drop
    if not k or frames < 2:
        return data
    parts: list[bytes] = []
    step = frames / (k + 1)
    prev = 0
    for i in range(1, k + 1):
        at = max(1, min(frames - 1, int(step * i))) * FRAME_BYTES
        parts.append(data[prev:at])
        if insert:
            parts.append(data[at - FRAME_BYTES:at])
            prev = at
        else:
            prev = at + FRAME_BYTES
    parts.append(data[prev:])
    return b"".join(parts)
