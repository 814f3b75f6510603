"""The system libopus through ctypes: the leanest way to decode Opus in the agent process.

Measured (docs/benchmarks.md, "Playout"): PyAV adds ~20 MB RSS to the agent on import and
an ``ffmpeg`` child costs ~50 MB RSS (46 MB PSS) and ~80 ms to start, whereas libopus
adds well under 1 MB and starts in microseconds, which also keeps emergency latency low.
libopus0 is already on every box that has Debian's ffmpeg (it depends on it). The
library is loaded on first use, so importing this module never fails.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

MAX_FRAME = 5760  # 120 ms at 48 kHz, the longest Opus frame
_OPUS_SET_GAIN_REQUEST = 4034

_lib: ctypes.CDLL | None = None
_lock = threading.Lock()


class OpusUnavailable(RuntimeError):
    """libopus could not be loaded on this machine."""


class OpusDecodeError(RuntimeError):
    """libopus rejected a packet or a decoder setting."""


def _load() -> ctypes.CDLL:
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        name = ctypes.util.find_library("opus") or "libopus.so.0"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise OpusUnavailable(f"cannot load libopus ({name}): {exc}") from exc
        lib.opus_decoder_create.restype = ctypes.c_void_p
        lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int,
                                            ctypes.POINTER(ctypes.c_int)]
        lib.opus_decoder_destroy.restype = None
        lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
        lib.opus_decode.restype = ctypes.c_int
        lib.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32,
                                    ctypes.POINTER(ctypes.c_int16), ctypes.c_int, ctypes.c_int]
        lib.opus_packet_get_nb_samples.restype = ctypes.c_int
        lib.opus_packet_get_nb_samples.argtypes = [ctypes.c_char_p, ctypes.c_int32,
                                                   ctypes.c_int32]
        lib.opus_decoder_ctl.restype = ctypes.c_int
        lib.opus_strerror.restype = ctypes.c_char_p
        lib.opus_strerror.argtypes = [ctypes.c_int]
        _lib = lib
        return lib


def _error(lib: ctypes.CDLL, code: int) -> str:
    text: bytes | None = lib.opus_strerror(code)
    return text.decode("ascii", "replace") if text else str(code)


def packet_samples(packet: bytes) -> int:
    """Samples (at 48 kHz) a packet decodes to, read from its TOC without decoding."""
    lib = _load()
    n = int(lib.opus_packet_get_nb_samples(packet, len(packet), 48_000))
    if n < 0:
        raise OpusDecodeError(f"bad packet: {_error(lib, n)}")
    return n


class OpusDecoder:
    """One libopus decoder producing mono s16 at 48 kHz (stereo streams are downmixed)."""

    def __init__(self, gain_q8: int = 0) -> None:
        self._lib = _load()
        err = ctypes.c_int(0)
        handle = self._lib.opus_decoder_create(48_000, 1, ctypes.byref(err))
        if err.value != 0 or not handle:
            raise OpusDecodeError(f"opus_decoder_create: {_error(self._lib, err.value)}")
        self._handle: int | None = handle
        self._pcm = (ctypes.c_int16 * MAX_FRAME)()
        if gain_q8:
            rc = self._lib.opus_decoder_ctl(ctypes.c_void_p(handle),
                                            ctypes.c_int(_OPUS_SET_GAIN_REQUEST),
                                            ctypes.c_int32(gain_q8))
            if rc != 0:
                raise OpusDecodeError(f"OPUS_SET_GAIN: {_error(self._lib, rc)}")

    def decode(self, packet: bytes) -> bytes:
        """Decode one packet to s16le mono bytes (ctypes releases the GIL meanwhile)."""
        if self._handle is None:
            raise OpusDecodeError("decoder closed")
        n = self._lib.opus_decode(self._handle, packet, len(packet), self._pcm, MAX_FRAME, 0)
        if n < 0:
            raise OpusDecodeError(f"opus_decode: {_error(self._lib, n)}")
        return ctypes.string_at(self._pcm, n * 2)

    def close(self) -> None:
        if self._handle is not None:
            self._lib.opus_decoder_destroy(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()
