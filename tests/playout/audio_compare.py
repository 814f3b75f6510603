"""Comparing recordings with sources: cross-correlation without numpy.

The stdlib ``audioop`` (``audioop-lts`` on 3.13+) does the heavy lifting in C:
``findfit`` slides the reference over the recording and returns the best lag, and
``findfactor``/``rms`` give the normalised correlation at that lag.
"""

from __future__ import annotations

import math
import sys
import warnings

if sys.version_info < (3, 13):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
else:  # pragma: no cover
    import audioop


def best_lag(recording: bytes, reference: bytes) -> tuple[int, float]:
    """Lag (in frames) of ``reference`` inside ``recording``, and the correlation there."""
    offset, _factor = audioop.findfit(recording, reference)
    segment = recording[offset * 2:offset * 2 + len(reference)]
    return offset, correlation(segment, reference)


def correlation(a: bytes, b: bytes) -> float:
    """Normalised correlation of two equal-length s16 fragments (1.0 = identical shape)."""
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    ra, rb = audioop.rms(a, 2), audioop.rms(b, 2)
    if ra == 0 or rb == 0:
        return 0.0
    factor = audioop.findfactor(a, b)  # <a,b> / <b,b>
    return factor * rb / ra


def max_abs_diff(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    return int(audioop.max(audioop.add(a[:n], audioop.mul(b[:n], 2, -1), 2), 2))


def rms(a: bytes) -> int:
    return int(audioop.rms(a, 2))


def db(x: float) -> float:
    return 20 * math.log10(max(x, 1e-12))
