"""Where PCM goes: the ``Sink`` protocol and its implementations (fake, null, ALSA)."""

from __future__ import annotations

from .alsa import SoundDeviceSink
from .base import Sink, SinkError, SinkTiming
from .fake import ClockedFakeSink
from .null import NullSink

__all__ = ["ClockedFakeSink", "NullSink", "Sink", "SinkError", "SinkTiming", "SoundDeviceSink"]
