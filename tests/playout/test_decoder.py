"""The in-process Ogg/Opus decoder against ffmpeg's, and its failure modes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.playout.decoder import DecodeError, PcmStream, decode_pcm
from agent.playout.pcm import RATE

from .audio_compare import best_lag, max_abs_diff
from .conftest import Library
from .media import corrupt_copy


def decode_all(path: Path, start: int = 0, limit: int | None = None) -> bytes:
    with path.open("rb") as f:
        return b"".join(decode_pcm(f, start, limit))


def drain(stream: PcmStream, timeout: float = 10.0) -> bytes:
    out = []
    deadline = time.monotonic() + timeout
    while not stream.finished:
        assert time.monotonic() < deadline, "decoder never finished"
        out.append(stream.read(RATE))
        time.sleep(0.001)
    return b"".join(out)


def test_decode_is_bit_identical_to_ffmpeg_libopus(library: Library) -> None:
    for item in (library.long, library.chirp, library.speech):
        ours = decode_all(item.path)
        assert ours == item.decoded(), item.path.name
        assert len(ours) // 2 == round(item.seconds * RATE)


@pytest.mark.parametrize("start", [600, 12_345, 7 * RATE + 17, 25 * RATE])
def test_seek_is_sample_accurate(library: Library, start: int) -> None:
    """Seeking lands on the exact sample; the audio equals a full decode's to within
    a few LSB (the decoder state converges over the 400 ms it decodes before the target)."""
    full = decode_all(library.long.path)
    part = decode_all(library.long.path, start, 9600)
    assert len(part) == 19_200
    lag, corr = best_lag(full[(start - 500) * 2:(start + 10_100) * 2], part)
    assert lag == 500 and corr > 0.9999
    assert max_abs_diff(part, full[start * 2:start * 2 + 19_200]) <= 4


def test_limit_and_past_the_end(library: Library) -> None:
    assert len(decode_all(library.short.path, 0, 1000)) == 2000
    assert decode_all(library.short.path, 10 * RATE) == b""


def test_stream_buffers_ahead_without_holding_the_item(library: Library) -> None:
    stream = PcmStream(library.long.path, expected_sha256=library.long.sha,
                       ahead_frames=RATE // 2)
    try:
        deadline = time.monotonic() + 5
        while stream.buffered_frames() < RATE // 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.1)
        assert RATE // 2 <= stream.buffered_frames() < RATE // 2 + 6000  # bounded
        assert stream.produced_frames < 2 * RATE
    finally:
        stream.close()


@pytest.mark.parametrize("damage", ["missing", "corrupt", "garbage", "sha"])
def test_unplayable_items_report_a_reason(library: Library, tmp_path: Path,
                                          damage: str) -> None:
    item = library.short
    sha = item.sha
    if damage == "missing":
        path = tmp_path / "absent"
    elif damage == "corrupt":
        path, sha = corrupt_copy(tmp_path, item).path, None  # decodes until it cannot
    elif damage == "garbage":
        path = tmp_path / "garbage"
        path.write_bytes(b"RIFF" + bytes(5000))
        sha = None
    else:
        path = corrupt_copy(tmp_path, item).path
    stream = PcmStream(path, expected_sha256=sha)
    drain(stream)
    assert stream.error, damage
    expected = {"missing": "not cached", "sha": "sha256", "garbage": "Ogg"}.get(damage, "")
    assert expected in stream.error


def test_garbage_raises_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"OggS" + bytes(100))
    with pytest.raises(DecodeError):
        decode_all(path)
