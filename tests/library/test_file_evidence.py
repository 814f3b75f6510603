"""Leading-byte sniffing and container-structure checks, on synthetic bytes."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from controller.library.integrity import Finding, inspect
from controller.library.sniff import claims_media


@pytest.mark.parametrize("head", [b"ID3\x04", b"\xff\xfb\x90\x00", b"\xff\xf1\x50\x80",
                                  b"fLaC", b"OggS", b"#!AMR\n",
                                  b"RIFF\x00\x00\x00\x00WAVE", b"\x00\x00\x00\x20ftypM4A ",
                                  bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"),
                                  bytes.fromhex("1a45dfa3")])
def test_media_signatures(head: bytes) -> None:
    assert claims_media(head + bytes(32))


@pytest.mark.parametrize("head", [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"%PDF-1.7",
                                  b"PK\x03\x04", "Kính gửi".encode(), b"", b"\xff"])
def test_other_files(head: bytes) -> None:
    assert not claims_media(head + bytes(8))


def ogg_page(flags: int, body: bytes) -> bytes:
    return b"OggS" + bytes([0, flags]) + bytes(20) + bytes([1, len(body)]) + body


def test_ogg_end_of_stream(tmp_path: Path) -> None:
    path = tmp_path / "a.ogg"
    path.write_bytes(ogg_page(2, b"head") + ogg_page(0, b"x" * 50) + ogg_page(4, b"y" * 20))
    assert inspect(path).finding is Finding.INTACT
    path.write_bytes(ogg_page(2, b"head") + ogg_page(0, b"x" * 50))
    assert inspect(path).finding is Finding.TRUNCATED
    path.write_bytes(ogg_page(2, b"head") + ogg_page(4, b"y" * 20)[:-5])
    assert inspect(path).finding is Finding.TRUNCATED


def test_riff_size(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    body = b"fmt " + bytes(20) + b"data" + bytes(100)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body)
    assert inspect(path).finding is Finding.INTACT
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body[:50])
    assert inspect(path).finding is Finding.TRUNCATED
    path.write_bytes(b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + body[:50])
    assert inspect(path).finding is Finding.INTACT  # a live recorder's placeholder


def test_amr_frames(tmp_path: Path) -> None:
    path = tmp_path / "a.amr"
    speech = bytes([7 << 3 | 0x04]) + bytes(31)  # 12.2 kbit/s frame
    no_data = bytes([15 << 3 | 0x04])
    path.write_bytes(b"#!AMR\n" + speech * 3 + no_data + speech)
    assert inspect(path).finding is Finding.INTACT
    path.write_bytes(b"#!AMR\n" + speech * 3 + speech[:10])
    assert inspect(path).finding is Finding.TRUNCATED
    path.write_bytes(b"#!AMR\n" + speech + bytes([13 << 3]) + speech)
    assert inspect(path).finding is Finding.CORRUPT
