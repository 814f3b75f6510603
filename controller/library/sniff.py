"""What a file's first bytes claim it is, when ffmpeg cannot open it.

ffmpeg says only "Invalid data" both for a damaged MP3 and for a Word document. The
operator needs to hear different things ("ask for a new copy" versus "this is not an
audio file"), so the leading bytes decide: a known audio/video signature that ffmpeg
cannot read is a damaged file, anything else is not audio.
"""

from __future__ import annotations

from pathlib import Path

_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_EBML = bytes.fromhex("1a45dfa3")
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
_PREFIXES = (b"ID3", b"fLaC", b"OggS", b"#!AMR", b"RF64", b"FLV", b"caff", b".snd", b"wvpk",
             b"MAC ", b"\x00\x00\x01\xba", _ASF_GUID, _EBML)


def head(path: Path, size: int = 512) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def claims_media(data: bytes) -> bool:
    """True when ``data`` starts like an audio or video container or elementary stream."""
    if data.startswith(_PREFIXES):
        return True
    if data[:4] == b"RIFF" and data[8:12] in (b"WAVE", b"AVI "):
        return True
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return True
    if data[4:8] in _MP4_BOXES:
        return True
    if len(data) > 376 and data[0] == data[188] == data[376] == 0x47:  # MPEG-TS packets
        return True
    return _mpeg_audio_sync(data)


def _mpeg_audio_sync(data: bytes) -> bool:
    """An MPEG audio frame (MP3/MP2: 11 sync bits, a valid layer) or an ADTS AAC frame."""
    if len(data) < 2 or data[0] != 0xFF:
        return False
    second = data[1]
    if second & 0xF6 == 0xF0:  # ADTS: 12 sync bits, layer 00
        return True
    return second & 0xE0 == 0xE0 and second & 0x06 != 0
