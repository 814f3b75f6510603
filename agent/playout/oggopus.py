"""A minimal Ogg demuxer for Opus streams (RFC 3533 pages, RFC 7845 Opus mapping).

Why our own: the agent decodes with the system libopus through ctypes (see ``libopus``)
to stay lean, and Ogg framing is small and fully specified. Only the first logical
stream is read; page CRCs are not checked because cached items are verified against
their sha256 before playing. Malformed input raises ``OggError``, never anything else.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

_PAGE_HEADER = struct.Struct("<4sBBqIIIB")
_CONTINUED, _BOS, _EOS = 0x01, 0x02, 0x04
MAX_PACKET = 1 << 20  # no sane Opus packet comes near this; stops runaway lacing


class OggError(ValueError):
    """The file is not a well-formed Ogg/Opus stream."""


@dataclass(frozen=True, slots=True)
class OpusHead:
    channels: int
    pre_skip: int
    output_gain_q8: int  # dB in Q7.8, to apply at decode time
    mapping_family: int


@dataclass(frozen=True, slots=True)
class Packet:
    data: bytes
    granule: int  # granule position of the page this packet completes on (-1 if none)
    last_on_page: bool
    eos: bool


def _pages(f: BinaryIO) -> Iterator[tuple[int, int, int, list[bytes], bool]]:
    """Yield ``(header_type, granule, serial, segments-as-packet-pieces, ends_complete)``."""
    while True:
        header = f.read(_PAGE_HEADER.size)
        if not header:
            return
        if len(header) < _PAGE_HEADER.size:
            raise OggError("truncated page header")
        magic, version, htype, granule, serial, _seq, _crc, nsegs = _PAGE_HEADER.unpack(header)
        if magic != b"OggS" or version != 0:
            raise OggError("bad page capture pattern or version")
        lacing = f.read(nsegs)
        if len(lacing) < nsegs:
            raise OggError("truncated segment table")
        body = f.read(sum(lacing))
        if len(body) < sum(lacing):
            raise OggError("truncated page body")
        pieces: list[bytes] = []
        pos = start = 0
        for value in lacing:
            pos += value
            if value < 255:
                pieces.append(body[start:pos])
                start = pos
        complete = not lacing or lacing[-1] < 255
        if not complete:
            pieces.append(body[start:pos])
        yield htype, granule, serial, pieces, complete


def packets(f: BinaryIO) -> Iterator[Packet]:
    """The packets of the first logical stream, reassembled across pages."""
    serial: int | None = None
    partial = b""
    for htype, granule, page_serial, pieces, complete in _pages(f):
        if serial is None:
            serial = page_serial
        elif page_serial != serial:
            continue
        if not htype & _CONTINUED and partial:
            partial = b""  # a lost continuation: drop the fragment, as decoders do
        eos = bool(htype & _EOS)
        n_complete = len(pieces) if complete else len(pieces) - 1
        for i, piece in enumerate(pieces):
            data = partial + piece
            partial = b""
            if i >= n_complete:
                if len(data) > MAX_PACKET:
                    raise OggError("packet too large")
                partial = data
                break
            yield Packet(data, granule, i == n_complete - 1, eos and i == n_complete - 1)
        if eos:
            return


def parse_head(packet: bytes) -> OpusHead:
    if len(packet) < 19 or packet[:8] != b"OpusHead":
        raise OggError("not an Ogg/Opus stream (no OpusHead)")
    version, channels, pre_skip, _rate, gain, family = struct.unpack_from("<BBHIhB", packet, 8)
    if version >> 4 != 0:
        raise OggError(f"unsupported OpusHead version {version}")
    if channels < 1 or (family == 0 and channels > 2):
        raise OggError(f"bad channel count {channels}")
    if family != 0:
        raise OggError(f"unsupported channel mapping family {family}")
    return OpusHead(channels, pre_skip, gain, family)
