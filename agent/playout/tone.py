"""The attention tone aired before an emergency: synthesised, never read from disk."""

from __future__ import annotations

import math
from array import array

from .pcm import RATE


def attention_tone(beeps: int = 3, beep_s: float = 0.35, gap_s: float = 0.15,
                   freqs: tuple[float, float] = (880.0, 660.0), level: float = 0.5) -> bytes:
    """Alternating two-tone beeps with 10 ms fades (no clicks), then 0.3 s of silence."""
    out = array("h")
    fade = int(0.01 * RATE)
    n = int(beep_s * RATE)
    for i in range(beeps):
        f = freqs[i % len(freqs)]
        w = 2 * math.pi * f / RATE
        for k in range(n):
            env = min(1.0, k / fade, (n - 1 - k) / fade)
            out.append(int(32767 * level * env * math.sin(w * k)))
        out.extend([0] * int(gap_s * RATE))
    out.extend([0] * int(0.3 * RATE))
    return out.tobytes()
