"""Making real test material and measuring results, independently of controller.library.

Inputs are generated with the real encoders (ffmpeg, espeak-ng, sox or PyAV for AMR);
results are judged with ffmpeg's ``ebur128`` filter, ffprobe and ``astats``, never with
the code that produced them.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

# A realistic commune bulletin (storm warning), a few seconds long.
BULLETIN_VI = ("Kính thưa bà con. Bão số ba đang vào gần bờ. "
               "Đề nghị bà con chằng chống nhà cửa, không ra khơi.")
LEAD_S = 1.0  # digital silence before the speech in every generated input
TAIL_S = 1.5  # and after it
LEVEL_DB = -8.0  # espeak speaks near full scale; inputs start well below the target


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def ffmpeg(*args: str | Path) -> None:
    run("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args)


def speak(text: str, out: Path) -> Path:
    """Vietnamese speech from espeak-ng (Northern voice), as espeak writes it."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (deploy/dev/quickstart.sh setup installs it)")
    run("espeak-ng", "-v", "vi", "-s", "160", "-w", out, text)
    return out


def padded_master(speech: Path, out: Path) -> Path:
    """The bulletin as a 48 kHz float WAV with silence before and after it."""
    ffmpeg("-i", speech, "-af",
           f"adelay={round(LEAD_S * 1000)}:all=1,apad=pad_dur={TAIL_S},volume={LEVEL_DB}dB",
           "-ar", "48000", "-c:a", "pcm_f32le", out)
    return out


VIDEO_SOURCE = ("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10")
# name -> (file suffix, ffmpeg output arguments). Several rates/channel layouts on purpose.
ENCODINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "mp3": (".mp3", ("-ac", "2", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "64k")),
    "wav": (".wav", ("-ac", "1", "-ar", "22050", "-c:a", "pcm_s16le")),
    "m4a": (".m4a", ("-ac", "2", "-ar", "44100", "-c:a", "aac", "-b:a", "64k")),
    "aac": (".aac", ("-ac", "1", "-ar", "32000", "-c:a", "aac", "-b:a", "48k", "-f", "adts")),
    "ogg": (".ogg", ("-ac", "1", "-ar", "44100", "-c:a", "libvorbis", "-q:a", "3")),
    "opus": (".opus", ("-ac", "2", "-ar", "48000", "-c:a", "libopus", "-b:a", "32k")),
    "flac": (".flac", ("-ac", "1", "-ar", "16000", "-c:a", "flac")),
    "wma": (".wma", ("-ac", "2", "-ar", "44100", "-c:a", "wmav2", "-b:a", "64k")),
}
VIDEOS: dict[str, tuple[str, tuple[str, ...]]] = {
    "mp4": (".mp4", ("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "64k")),
    "mkv": (".mkv", ("-c:v", "mpeg4", "-c:a", "libmp3lame", "-b:a", "64k")),
}
FORMATS = (*ENCODINGS, "amr", *VIDEOS)


def encode(master: Path, fmt: str, folder: Path, stem: str = "ban-tin") -> Path:
    """``master`` in format ``fmt`` (one of ``FORMATS``)."""
    if fmt == "amr":
        return amr(master, folder / f"{stem}.amr")
    if fmt in VIDEOS:
        suffix, args = VIDEOS[fmt]
        out = folder / f"{stem}{suffix}"
        ffmpeg(*VIDEO_SOURCE, "-i", master, "-map", "0:v", "-map", "1:a", "-shortest",
               *args, out)
        return out
    suffix, args = ENCODINGS[fmt]
    out = folder / f"{stem}{suffix}"
    ffmpeg("-i", master, *args, out)
    return out


def amr(master: Path, out: Path) -> Path:
    """AMR-NB at 12.2 kbit/s, 8 kHz, from a real encoder (opencore-amrnb).

    Debian's ffmpeg has the AMR decoders but no encoder. SoX's ``amr-nb`` format
    (Debian ``libsox-fmt-base``, opencore-amrnb, with discontinuous transmission as
    phones record it) comes first; PyAV's bundled FFmpeg (``libopencore_amrnb``) next.
    """
    narrow = out.with_suffix(".8k.wav")
    ffmpeg("-i", master, "-ar", "8000", "-ac", "1", "-c:a", "pcm_s16le", narrow)
    if shutil.which("sox") and "amr-nb" in subprocess.run(
            ["sox", "-h"], capture_output=True, text=True, check=False).stdout:
        run("sox", narrow, "-t", "amr-nb", "-C", "7", out)
        return out
    try:
        import av
    except ImportError:
        pytest.skip("no AMR encoder: install Debian libsox-fmt-base (SoX amr-nb) or PyAV")
    with av.open(str(narrow)) as source, av.open(str(out), "w", format="amr") as sink:
        stream = sink.add_stream("libopencore_amrnb", rate=8000)
        stream.bit_rate = 12200
        stream.layout = "mono"
        stream.format = "s16"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=8000, frame_size=160)
        for frame in [*source.decode(audio=0), None]:
            for chunk in resampler.resample(frame):
                for packet in stream.encode(chunk):
                    sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
    return out


@dataclass(frozen=True)
class R128:
    integrated_lufs: float
    true_peak_dbtp: float


def ebur128(path: Path, start_s: float | None = None, end_s: float | None = None) -> R128:
    """Integrated loudness and true peak by ffmpeg's ``ebur128`` filter (not loudnorm)."""
    chain = ""
    if start_s is not None or end_s is not None:
        bounds = [f"start={start_s}" if start_s is not None else "",
                  f"end={end_s}" if end_s is not None else ""]
        chain = "atrim=" + ":".join(b for b in bounds if b) + ","
    done = run("ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-i", path, "-af",
               chain + "ebur128=peak=true", "-f", "null", "-")
    summary = done.stderr[done.stderr.rindex("Summary:"):]
    integrated = re.search(r"I:\s+(-?[0-9.]+|-inf) LUFS", summary)
    peak = re.search(r"True peak:\s+Peak:\s+(-?[0-9.]+|-inf) dBFS", summary)
    assert integrated and peak, summary
    return R128(float(integrated[1]), float(peak[1]))


def band_level_db(path: Path, start_s: float, end_s: float, frequency: float) -> float:
    """RMS level of a narrow band around ``frequency`` within [start, end)."""
    done = run("ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-i", path, "-af",
               f"atrim=start={start_s}:end={end_s},"
               f"bandpass=f={frequency}:width_type=q:width=30,"
               "astats=measure_perchannel=none:measure_overall=RMS_level", "-f", "null", "-")
    match = re.search(r"RMS level dB:\s+(-?[0-9.]+|-inf)", done.stderr)
    assert match, done.stderr[-1000:]
    return float(match[1])


def stream_info(path: Path) -> dict[str, object]:
    done = run("ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", path)
    report = json.loads(done.stdout)
    (stream,) = report["streams"]
    return {"format": report["format"]["format_name"], "codec": stream["codec_name"],
            "channels": stream["channels"], "sample_rate": int(stream["sample_rate"])}


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file and folder under ``root`` with its size and content."""
    found: dict[str, tuple[int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root)) + ("/" if path.is_dir() else "")
        found[key] = (0, b"") if path.is_dir() else (path.stat().st_size, path.read_bytes())
    return found


def cut(source: Path, out: Path, fraction: float) -> Path:
    data = source.read_bytes()
    out.write_bytes(data[:int(len(data) * fraction)])
    return out


def scramble(source: Path, out: Path, start: float, length: float, seed: int = 5) -> Path:
    """Overwrite ``length`` (a fraction of the file) from ``start`` with noise bytes."""
    data = bytearray(source.read_bytes())
    first, count = int(len(data) * start), int(len(data) * length)
    data[first:first + count] = random.Random(seed).randbytes(count)
    out.write_bytes(bytes(data))
    return out


def is_root() -> bool:
    return os.geteuid() == 0
