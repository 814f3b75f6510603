"""Items an emergency may air, with their first few hundred ms already decoded in memory.

An emergency must be heard at once. A cold start waits for a decoder thread to find the
item, hash it and decode its first 200 ms: a few ms on an idle PC, tens of ms on a Pi,
far more when the CPU is busy. The commune's pinned items (the standard storm and flood
warnings, ``Plan.pins``) are therefore decoded ahead, in a decoder's own thread: an
emergency airing one of them writes its first samples from memory while the rest of the
item is decoded from that offset on.

Engine thread only (no locks): ``want`` and ``poll`` run there. Memory is bounded by
``capacity`` items of ``frames`` frames each (8 x 500 ms = 384 kB by default).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .decoder import PcmStream
from .pcm import frames_in

log = logging.getLogger("loaxa.playout")

OpenStream = Callable[[bytes, int, int | None, str], PcmStream]
RETRY_NS = 30 * 1_000_000_000  # an item not cached yet (or corrupt) is tried again after


@dataclass(frozen=True, slots=True)
class Prefix:
    pcm: bytes  # the item's first frames, decoded
    whole: bool  # the item is no longer than this: nothing follows


class WarmStore:
    """Keeps ``Prefix``es of the wanted items; retries an item that failed (not yet
    cached, or corrupt) every ``retry_ns``."""

    def __init__(self, open_stream: OpenStream, *, frames: int, capacity: int,
                 retry_ns: int = RETRY_NS) -> None:
        self._open = open_stream
        self._frames = frames
        self._capacity = capacity
        self._retry_ns = retry_ns
        self._wanted: list[bytes] = []
        self._ready: dict[bytes, Prefix] = {}
        self._decoding: dict[bytes, PcmStream] = {}
        self._failed: dict[bytes, int] = {}  # content -> when it may be tried again

    def want(self, contents: list[bytes]) -> None:
        """Keep these (in order of importance; beyond ``capacity`` the rest are not kept)."""
        wanted = list(dict.fromkeys(contents))[:self._capacity] if self._frames > 0 else []
        self._wanted = wanted
        keep = set(wanted)
        for sha in [s for s in self._decoding if s not in keep]:
            self._decoding.pop(sha).close()
        self._ready = {s: p for s, p in self._ready.items() if s in keep}
        self._failed = {s: t for s, t in self._failed.items() if s in keep}

    def poll(self, now: int) -> None:
        """Collect finished decodes and start the missing ones."""
        for sha, stream in list(self._decoding.items()):
            if not stream.done:
                continue
            del self._decoding[sha]
            error = stream.error
            pcm = stream.read(self._frames)
            stream.close()
            if error is not None:
                # not fetched yet, usually (a corrupt file is logged by the cache)
                log.debug("cannot keep %s ready for an emergency: %s", sha.hex()[:12], error)
                self._failed[sha] = now + self._retry_ns
            else:
                self._ready[sha] = Prefix(pcm, whole=frames_in(pcm) < self._frames)
        for sha in self._wanted:
            if sha in self._ready or sha in self._decoding or self._failed.get(sha, now) > now:
                continue
            self._failed.pop(sha, None)
            self._decoding[sha] = self._open(sha, 0, self._frames, f"warm-{sha.hex()[:6]}")

    @property
    def ready(self) -> frozenset[bytes]:
        return frozenset(self._ready)

    def prefix(self, sha: bytes) -> Prefix | None:
        return self._ready.get(sha)

    def close(self) -> None:
        for stream in self._decoding.values():
            stream.close()
        self._decoding.clear()
        self._ready.clear()
