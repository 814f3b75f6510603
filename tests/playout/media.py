"""Real test audio: made with ffmpeg (and espeak-ng), encoded like cached items.

Every item is Ogg/Opus, mono, 48 kHz, 24 kbit/s and stored under its sha256 hex digest,
exactly as the agent's cache keeps them; ``decoded`` is ffmpeg's decode of the file (with
its libopus decoder: ffmpeg's native Opus decoder fills noise bands differently, which
costs ~3% correlation on noise), the reference a recording is compared with.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Item:
    sha: bytes
    path: Path
    seconds: float

    def decoded(self) -> bytes:
        return subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-c:a", "libopus", "-i", str(self.path),
             "-f", "s16le",
             "-ac", "1", "-ar", "48000", "-"], capture_output=True, check=True).stdout


def _encode(cache: Path, lavfi: list[str], seconds: float) -> Item:
    tmp = cache / "encoding.opus"
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *lavfi,
                    "-t", f"{seconds:.6f}", "-ac", "1", "-ar", "48000", "-c:a", "libopus",
                    "-b:a", "24k", str(tmp)], check=True)
    sha = hashlib.sha256(tmp.read_bytes()).digest()
    path = cache / sha.hex()
    tmp.rename(path)
    return Item(sha, path, seconds)


def noise_item(cache: Path, seconds: float, seed: int = 7) -> Item:
    """Pink noise: its cross-correlation has one sharp peak, so lags are unambiguous."""
    return _encode(cache, ["-f", "lavfi", "-i",
                           f"anoisesrc=color=pink:seed={seed}:amplitude=0.4:sample_rate=48000"],
                   seconds)


def chirp_item(cache: Path, seconds: float) -> Item:
    return _encode(cache, ["-f", "lavfi", "-i",
                           f"aevalsrc=0.5*sin(2*PI*(200+{1800 / seconds}*t)*t):s=48000"],
                   seconds)


def speech_item(cache: Path, text: str = "Thông báo của Ủy ban nhân dân xã về phòng chống "
                "bão lũ. Đề nghị bà con chuẩn bị lương thực và gia cố nhà cửa.") -> Item:
    """Vietnamese speech through espeak-ng, the realistic bulletin input."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed")
    wav = cache / "speech.wav"
    subprocess.run([espeak, "-v", "vi", "-w", str(wav), text], check=True)
    with wave.open(str(wav)) as w:
        seconds = w.getnframes() / w.getframerate()
    return _encode(cache, ["-i", str(wav)], seconds)


def corrupt_copy(cache: Path, item: Item) -> Item:
    """Same name (the sha the plan asks for), damaged bytes: bit-rot on the SD card."""
    data = bytearray(item.path.read_bytes())
    for i in range(200, len(data), 997):
        data[i] ^= 0x5A
    path = cache / "corrupt" / item.path.name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(bytes(data))
    return Item(item.sha, path, item.seconds)
