"""Sample sources an airing reads from: decoded items, in-memory PCM, and chains of them.

All reads are non-blocking; an empty read with ``finished`` False means "not decoded
yet" (the engine then plays silence and drift correction catches up once data comes).
"""

from __future__ import annotations

from typing import Protocol

from .decoder import PcmStream
from .pcm import FRAME_BYTES, RATE

READY_FRAMES = RATE // 5


class Source(Protocol):
    def read(self, max_frames: int) -> bytes: ...

    @property
    def finished(self) -> bool: ...

    @property
    def error(self) -> str | None: ...

    def ready(self) -> bool:
        """Data is available now, or the source has ended (so starting will not stall)."""
        ...

    def close(self) -> None: ...


class BytesSource:
    """PCM already in memory (the attention tone)."""

    def __init__(self, pcm: bytes) -> None:
        self._pcm = pcm
        self._pos = 0

    def read(self, max_frames: int) -> bytes:
        chunk = self._pcm[self._pos:self._pos + max_frames * FRAME_BYTES]
        self._pos += len(chunk)
        return chunk

    @property
    def finished(self) -> bool:
        return self._pos >= len(self._pcm)

    @property
    def error(self) -> str | None:
        return None

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        self._pos = len(self._pcm)


class StreamSource:
    """A ``PcmStream`` seen as a ``Source``."""

    def __init__(self, stream: PcmStream) -> None:
        self.stream = stream

    def read(self, max_frames: int) -> bytes:
        return self.stream.read(max_frames)

    @property
    def finished(self) -> bool:
        return self.stream.finished

    @property
    def error(self) -> str | None:
        return self.stream.error

    def ready(self) -> bool:
        # A start on one 20 ms packet would starve on the next chunk (a gap, then a
        # jump to catch up); 200 ms decodes in well under a millisecond.
        return self.stream.buffered_frames() >= READY_FRAMES or self.stream.finished

    def close(self) -> None:
        self.stream.close()


class ChainSource:
    """Sources played back to back (attention tone, then the emergency item)."""

    def __init__(self, *parts: Source) -> None:
        self._parts = list(parts)
        self._errors: list[str] = []

    def read(self, max_frames: int) -> bytes:
        out = b""
        while self._parts and len(out) < max_frames * FRAME_BYTES:
            head = self._parts[0]
            out += head.read(max_frames - len(out) // FRAME_BYTES)
            if head.finished:
                if head.error:
                    self._errors.append(head.error)
                self._parts.pop(0)
            elif len(out) < max_frames * FRAME_BYTES:
                break  # head has nothing more yet
        return out

    @property
    def finished(self) -> bool:
        return not self._parts

    @property
    def error(self) -> str | None:
        return "; ".join(self._errors) or None

    def ready(self) -> bool:
        return not self._parts or self._parts[0].ready()

    def close(self) -> None:
        for part in self._parts:
            part.close()
