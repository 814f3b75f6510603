"""Cached Ogg/Opus items decoded ahead of the engine, in their own thread.

``decode_pcm`` is the synchronous core (file -> s16le 48 kHz chunks, sample-accurate
start offset and length); ``PcmStream`` runs it in a background thread with a bounded
read-ahead buffer so the engine thread only ever does a non-blocking ``read`` — disk
reads, the sha256 check and decoding never stall playout. Pre-roll is simply creating
the stream a few seconds before the slot: by its start the buffer is full.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from . import libopus
from .oggopus import OggError, packets, parse_head
from .pcm import FRAME_BYTES, RATE

log = logging.getLogger("loaxa.playout.decoder")

# RFC 7845 §4.6 asks for at least 80 ms of decoding before a seek target; measured on a
# chirp, 80 ms still leaves a 6% level error for a while, 400 ms gives bit-exact output.
SEEK_PREROLL = 19_200
# A start on one 20 ms packet would starve on the next chunk (a gap, then a jump to catch
# up); 200 ms decodes in well under a millisecond.
READY_FRAMES = RATE // 5


class DecodeError(Exception):
    """The item cannot be played: missing, altered, or not decodable Ogg/Opus."""


def decode_pcm(f: BinaryIO, start_frame: int = 0,
               limit_frames: int | None = None) -> Iterator[bytes]:
    """Yield the item's PCM from ``start_frame`` on, at most ``limit_frames`` frames.

    Positions are exact: pre-skip and end trimming follow RFC 7845, and seeking skips
    whole packets by their TOC sample counts (no decoding) up to 400 ms before the target,
    then decodes and discards to the exact sample (output bit-identical to a full decode).
    """
    try:
        it = packets(f)
        head_packet = next(it, None)
        if head_packet is None:
            raise DecodeError("empty file")
        head = parse_head(head_packet.data)
        tags = next(it, None)
        if tags is None or not tags.data.startswith(b"OpusTags"):
            raise DecodeError("no OpusTags header")
        target = start_frame + head.pre_skip
        emitted = 0
        position = 0  # absolute sample index (pre-skip included) of the next packet
        decoder: libopus.OpusDecoder | None = None
        try:
            for packet in it:
                if not packet.data:
                    continue
                n = libopus.packet_samples(packet.data)
                first, position = position, position + n
                end = packet.granule if packet.eos and packet.granule >= 0 else position
                if decoder is None:
                    if position <= target - SEEK_PREROLL and not packet.eos:
                        continue
                    decoder = libopus.OpusDecoder(head.output_gain_q8)
                pcm = decoder.decode(packet.data)
                lo = max(first, target) - first
                hi = min(first + len(pcm) // FRAME_BYTES, end) - first
                if hi > lo:
                    if limit_frames is not None:
                        hi = min(hi, lo + limit_frames - emitted)
                    chunk = pcm[lo * FRAME_BYTES:hi * FRAME_BYTES]
                    emitted += hi - lo
                    yield chunk
                    if limit_frames is not None and emitted >= limit_frames:
                        return
                if packet.eos:
                    return
        finally:
            if decoder is not None:
                decoder.close()
    except OggError as exc:
        raise DecodeError(f"not a valid Ogg/Opus file: {exc}") from exc
    except libopus.OpusDecodeError as exc:
        raise DecodeError(f"corrupt Opus data: {exc}") from exc
    except libopus.OpusUnavailable as exc:
        raise DecodeError(str(exc)) from exc


def sha256_of(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.digest()


class PcmStream:
    """An item decoding in the background into a bounded buffer; reads never block.

    ``ahead_frames`` bounds memory (3 s = 288 kB) whatever the item's length: a 45-min
    item is never held in RAM. Errors are kept and reported through ``error`` once the
    buffered audio is drained, so the engine can end the airing cleanly. ``path`` may be
    a function finding the file (a cache lookup that hashes it): it then runs on the
    decoder's thread, never the caller's. ``on_ready`` is called once, when
    ``ready_frames`` are buffered or decoding ended.
    """

    def __init__(self, path: Path | Callable[[], Path], *, start_frame: int = 0,
                 limit_frames: int | None = None, expected_sha256: bytes | None = None,
                 ahead_frames: int = 3 * RATE, ready_frames: int = READY_FRAMES,
                 name: str = "", on_ready: Callable[[], None] | None = None) -> None:
        self._locate = path if callable(path) else (lambda: path)
        self.start_frame = start_frame
        self._limit = limit_frames
        self._sha = expected_sha256
        self._ahead = ahead_frames
        self._ready_frames = min(ready_frames, ahead_frames)
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._closed = False
        self._error: str | None = None
        self._produced = 0
        self._on_ready = on_ready  # called once: first audio ready, or failed
        self._cond = threading.Condition()
        label = name or (path.name[:12] if isinstance(path, Path) else "item")
        self._thread = threading.Thread(target=self._run, name=f"decode-{label}", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------- consumer side
    def read(self, max_frames: int) -> bytes:
        """Up to ``max_frames`` frames that are ready now (possibly none)."""
        out: list[bytes] = []
        want = max_frames * FRAME_BYTES
        with self._cond:
            while want > 0 and self._chunks:
                chunk = self._chunks.popleft()
                if len(chunk) > want:
                    self._chunks.appendleft(chunk[want:])
                    chunk = chunk[:want]
                out.append(chunk)
                want -= len(chunk)
                self._buffered -= len(chunk) // FRAME_BYTES
            self._cond.notify_all()
        return b"".join(out)

    def buffered_frames(self) -> int:
        with self._cond:
            return self._buffered

    def ready(self) -> bool:
        """Enough is buffered to start without starving on the next chunk, or decoding
        ended (so starting will not stall)."""
        with self._cond:
            return self._buffered >= self._ready_frames or self._done

    @property
    def done(self) -> bool:
        """Decoding ended (normally or not); decoded frames may still wait to be read."""
        with self._cond:
            return self._done

    @property
    def finished(self) -> bool:
        """Decoding ended (normally or not) and every decoded frame has been read."""
        with self._cond:
            return self._done and not self._chunks

    @property
    def error(self) -> str | None:
        with self._cond:
            return self._error

    @property
    def produced_frames(self) -> int:
        with self._cond:
            return self._produced

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._chunks.clear()
            self._buffered = 0
            self._cond.notify_all()

    # ----------------------------------------------------------------- producer side
    def _run(self) -> None:
        error: str | None = None
        path: Path | str = "?"
        try:
            path = self._locate()
            if not path.is_file():
                raise DecodeError("content not cached")
            if self._sha is not None and sha256_of(path) != self._sha:
                raise DecodeError("content sha256 mismatch (altered or truncated file)")
            with path.open("rb") as f:
                for chunk in decode_pcm(f, self.start_frame, self._limit):
                    if not self._push(chunk):
                        return
        except DecodeError as exc:
            error = str(exc)
        except OSError as exc:
            error = f"cannot read content: {exc.strerror or exc}"
        except Exception as exc:  # an agent never crashes on input
            log.exception("decoder failed on %s", path)
            error = f"decoder failure: {type(exc).__name__}"
        finally:
            with self._cond:
                self._done = True
                self._error = error
                self._cond.notify_all()
            self._ready()

    def _ready(self) -> None:
        callback, self._on_ready = self._on_ready, None
        if callback is not None:
            callback()

    def _push(self, chunk: bytes) -> bool:
        with self._cond:
            while self._buffered >= self._ahead and not self._closed:
                self._cond.wait()
            if self._closed:
                return False
            self._chunks.append(chunk)
            n = len(chunk) // FRAME_BYTES
            self._buffered += n
            self._produced += n
            ready = self._buffered >= self._ready_frames
        if ready:
            self._ready()  # the engine may be waiting to start this item: wake it
        return True
