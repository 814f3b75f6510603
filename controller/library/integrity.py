"""Container-level evidence that a file was cut short or scrambled, where ffmpeg is silent.

ffmpeg decodes what is there without complaint when a copy stops at a packet boundary:
an Ogg file cut between pages, a WAV cut between samples. The containers themselves
know better: an Ogg stream ends with a page flagged end-of-stream, a RIFF header
states the file's size, and raw AMR is a sequence of frames whose sizes follow from
their type byte. These checks read only the first and last bytes of the file.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from pathlib import Path

_OGG_EOS = 0x04
_TAIL_BYTES = 256 * 1024
# Bytes per AMR frame including its type byte, by frame type (RFC 4867 storage format).
_AMR_NB_SIZES = (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 0, 0, 0, 1)
_AMR_WB_SIZES = (18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 0, 0, 0, 0, 1, 1)
_AMR_MAX_BYTES = 64 * 1024 * 1024


class Finding(enum.Enum):
    INTACT = "intact"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"


@dataclass(frozen=True, slots=True)
class Structure:
    finding: Finding
    detail: str = ""


INTACT = Structure(Finding.INTACT)


def inspect(path: Path) -> Structure:
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(b"OggS"):
        return _ogg(path)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _riff(path, head)
    if head.startswith(b"#!AMR-WB\n"):
        return _amr(path, len(b"#!AMR-WB\n"), _AMR_WB_SIZES)
    if head.startswith(b"#!AMR\n"):
        return _amr(path, len(b"#!AMR\n"), _AMR_NB_SIZES)
    return INTACT


def _ogg(path: Path) -> Structure:
    """The last page must be complete and carry the end-of-stream flag."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - _TAIL_BYTES))
        tail = handle.read()
    position = tail.rfind(b"OggS")
    while position >= 0:
        page = tail[position:]
        if len(page) >= 27 and page[4] == 0:  # stream structure version 0
            segments = page[26]
            if len(page) < 27 + segments:
                return Structure(Finding.TRUNCATED, "last Ogg page header cut")
            body = sum(page[27:27 + segments])
            if len(page) < 27 + segments + body:
                return Structure(Finding.TRUNCATED, "last Ogg page cut")
            if not page[5] & _OGG_EOS:
                return Structure(Finding.TRUNCATED, "no end-of-stream page")
            return INTACT
        position = tail.rfind(b"OggS", 0, position)
    return Structure(Finding.CORRUPT, "no Ogg page near the end")


def _riff(path: Path, head: bytes) -> Structure:
    (declared,) = struct.unpack("<I", head[4:8])
    if declared in (0, 0xFFFFFFFF):  # written by a recorder that never finished the header
        return INTACT
    actual = path.stat().st_size
    if declared + 8 > actual:
        return Structure(Finding.TRUNCATED, f"RIFF says {declared + 8} bytes, file has {actual}")
    return INTACT


def _amr(path: Path, offset: int, sizes: tuple[int, ...]) -> Structure:
    """Walk the frames: reserved frame types mean garbage, a short last frame a cut."""
    with path.open("rb") as handle:
        data = handle.read(_AMR_MAX_BYTES)
    position = offset
    while position < len(data):
        frame_type = (data[position] >> 3) & 0x0F
        length = sizes[frame_type]
        if length == 0 or data[position] & 0x83:  # reserved type, or padding bits set
            return Structure(Finding.CORRUPT, f"bad AMR frame header at byte {position}")
        position += length
    if position > len(data) and len(data) < _AMR_MAX_BYTES:
        return Structure(Finding.TRUNCATED, "last AMR frame cut")
    return INTACT
