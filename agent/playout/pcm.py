"""The one PCM format playout uses: signed 16-bit little-endian, mono, 48 kHz.

Cached items are Opus (always 48 kHz internally), so nothing is resampled; all sample
arithmetic is done on ``bytes`` with the C-speed ``audioop`` module (stdlib up to 3.12,
``audioop-lts`` afterwards, already a base dependency) because the agent must not pull
in numpy.
"""

from __future__ import annotations

import sys
import warnings

if sys.version_info < (3, 13):  # pragma: no branch - the stdlib module warns on import
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
else:  # pragma: no cover
    import audioop

RATE = 48_000
FRAME_BYTES = 2  # mono s16le
NS_PER_SECOND = 1_000_000_000
NS_PER_FRAME = NS_PER_SECOND / RATE

_ZEROS = bytes(FRAME_BYTES * RATE)


def silence(frames: int) -> bytes:
    """``frames`` frames of digital silence."""
    size = frames * FRAME_BYTES
    if size <= len(_ZEROS):
        return _ZEROS[:size]
    return bytes(size)


def frames_in(pcm: bytes) -> int:
    return len(pcm) // FRAME_BYTES


def gain(pcm: bytes, volume: int) -> bytes:
    """Scale by ``volume`` percent (linear amplitude; 100 = unchanged, clipped at full scale)."""
    if volume >= 100 or not pcm:
        return pcm
    return audioop.mul(pcm, FRAME_BYTES, max(volume, 0) / 100.0)


def frames_to_ns(frames: float) -> int:
    return round(frames * NS_PER_FRAME)


def ns_to_frames(ns: float) -> float:
    return ns / NS_PER_FRAME
