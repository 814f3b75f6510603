"""Sample sources an airing reads from: decoded items, in-memory PCM, and chains of them.

All reads are non-blocking; an empty read with ``finished`` False means "not decoded
yet" (the engine then plays silence and drift correction catches up once data comes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .decoder import PcmStream
from .pcm import FRAME_BYTES


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
    """PCM already in memory (the attention tone, an item's pre-decoded start)."""

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
        return self.stream.ready()

    def close(self) -> None:
        self.stream.close()


class LaterSource:
    """A source its owner opens a moment later (``open``), empty until then: the rest of
    an item whose start plays from memory, so that starting the decoder thread cannot
    delay the first write."""

    def __init__(self, factory: Callable[[], Source]) -> None:
        self._factory = factory
        self._source: Source | None = None
        self._closed = False

    def open(self) -> None:
        if self._source is None and not self._closed:
            self._source = self._factory()

    def read(self, max_frames: int) -> bytes:
        return b"" if self._source is None else self._source.read(max_frames)

    @property
    def finished(self) -> bool:
        return self._closed or (self._source is not None and self._source.finished)

    @property
    def error(self) -> str | None:
        return None if self._source is None else self._source.error

    def ready(self) -> bool:
        return self._source is not None and self._source.ready()

    def close(self) -> None:
        self._closed = True
        if self._source is not None:
            self._source.close()


class ChainSource:
    """Sources played back to back (attention tone, an item's pre-decoded start, then the
    rest of the item)."""

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
