"""Where the next written frame will be heard: a line fitted to the sink's anchors.

The sink reports "written frame f is presented at t" from the device side. Within one
epoch (no underrun) those anchors lie on a line whose slope is the card's true frame
period: its crystal drift, measured against the engine clock. Fitting the recent
anchors by least squares smooths DAC-time jitter on real cards and is exact on the
fake. The engine predicts the presentation time of the frame it is about to write from
that line; drift correction then compares it with when the item says the sample is due.
"""

from __future__ import annotations

from collections import deque

from .pcm import NS_PER_FRAME
from .sinks.base import SinkTiming

_MIN_SPACING_FRAMES = 2_400  # keep an anchor every 50 ms at most
_MAX_SLOPE_ERROR = 2e-3  # a fitted period further than 2000 ppm from nominal is nonsense


class PresentationLine:
    """Least-squares line through the latest anchors of the current epoch."""

    def __init__(self, window: int = 400, min_span_frames: int = 48_000) -> None:
        self._points: deque[tuple[int, int]] = deque(maxlen=window)
        self._epoch: int | None = None
        self._min_span = min_span_frames
        self._fit: tuple[float, float, float] | None = None  # (frame0, mono0, ns/frame)
        self._fresh: tuple[int, int] | None = None  # the latest anchor
        self._fitted = False  # the current fit is a regression (not the nominal fallback)
        self.slope_ns = NS_PER_FRAME

    def add(self, anchor: SinkTiming) -> None:
        if anchor.epoch != self._epoch:
            self._points.clear()
            self._epoch = anchor.epoch
            self._fresh = None
        if self._fresh is not None and anchor.frame == self._fresh[0]:
            return
        self._fresh = (anchor.frame, anchor.mono_ns)
        if not self._points or anchor.frame - self._points[-1][0] >= _MIN_SPACING_FRAMES:
            self._points.append(self._fresh)
            self._fit = None
        elif self._fit is not None and not self._fitted:
            self._fit = None  # the nominal line goes through the freshest anchor

    def reset(self) -> None:
        self._fresh = None
        self._points.clear()
        self._epoch = None
        self._fit = None

    @property
    def pulled_until_ns(self) -> int | None:
        """Presentation time of the last frame the device has taken: frames due before
        it can no longer be changed (the card's own buffer latency ahead of now)."""
        return None if self._fresh is None else self._fresh[1]

    @property
    def drift_ppm(self) -> float:
        """How fast the card runs relative to the clock (+ = consumes faster)."""
        if self._fit is None and self._fresh is not None:
            self._fit = self._solve()
        return (NS_PER_FRAME / self.slope_ns - 1.0) * 1e6

    def predict(self, frame: int) -> float | None:
        """Monotonic ns at which written frame ``frame`` will be presented."""
        if self._fresh is None:
            return None
        if self._fit is None:
            self._fit = self._solve()
        f0, t0, slope = self._fit
        return t0 + (frame - f0) * slope

    def _solve(self) -> tuple[float, float, float]:
        pts = self._points
        assert self._fresh is not None
        last_f, last_t = self._fresh
        if len(pts) < 3 or pts[-1][0] - pts[0][0] < self._min_span:
            # Too short to measure drift: nominal (or last known) period through the
            # freshest anchor, which is already exact on the fake and close on a card.
            self._fitted = False
            return float(last_f), float(last_t), self.slope_ns
        self._fitted = True
        n = len(pts)
        mf = sum(f for f, _ in pts) / n
        mt = sum(t for _, t in pts) / n
        sff = sum((f - mf) ** 2 for f, _ in pts)
        sft = sum((f - mf) * (t - mt) for f, t in pts)
        slope = sft / sff if sff else NS_PER_FRAME
        if abs(slope / NS_PER_FRAME - 1.0) > _MAX_SLOPE_ERROR:
            slope = NS_PER_FRAME
        self.slope_ns = slope
        return mf, mt, slope
