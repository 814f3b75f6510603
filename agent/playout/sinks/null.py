"""A sink that plays nothing but keeps time like a real card (no sound card present)."""

from __future__ import annotations

from protocols.clock import Clock

from .fake import ClockedFakeSink


class NullSink(ClockedFakeSink):
    """Discards audio while pulling at 48 kHz, so the engine's timing logic is unchanged.

    Used where no sound card exists (a box being commissioned, CI). ``real`` is False,
    so play records made on it carry ``Evidence.PROCESS``, never ``Evidence.SINK``.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__(clock, record=False, name="null")
        self.real = False
