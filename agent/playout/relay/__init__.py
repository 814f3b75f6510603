"""The amplifier relay: protocol, GPIO drivers (gpiozero / libgpiod) and a recording fake."""

from __future__ import annotations

from .base import AmplifierRelay, RelayError
from .fake import FakeRelay
from .gpio import GpiodRelay, GpioZeroRelay

__all__ = ["AmplifierRelay", "FakeRelay", "GpioZeroRelay", "GpiodRelay", "RelayError"]
