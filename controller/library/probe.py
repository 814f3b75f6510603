"""First look at an operator's file: can it be read, and does it hold audio at all?

Cheap checks come first so the common mistakes (wrong file, empty file, a photo, a
3-hour recording) are refused in milliseconds, before anything is decoded.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import runner, sniff
from .errors import (
    CorruptFile,
    EmptyFile,
    MissingFile,
    NoAudioTrack,
    NotAFile,
    NotAudio,
    PermissionDenied,
    ProcessingFailed,
    TruncatedFile,
)

PROBE_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What ffprobe says about the first audio stream of a file."""

    size_bytes: int
    format_name: str  # ffmpeg's demuxer name, e.g. "mp3", "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str  # e.g. "aac", "amr_nb"
    sample_rate: int
    channels: int
    duration_s: float | None  # None when the container does not say
    duration_estimated: bool  # ffmpeg guessed it from the bitrate (no header figure)
    has_video: bool

    @property
    def declared_s(self) -> float | None:
        """The duration the container promises, when it is a promise and not a guess."""
        return None if self.duration_estimated else self.duration_s


def check_readable(path: Path, name: str) -> int:
    """The size of a readable regular file, or the refusal the operator needs to see."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise MissingFile(name, detail=str(exc)) from exc
    except PermissionError as exc:
        raise PermissionDenied(name, detail=str(exc)) from exc
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP):
            raise MissingFile(name, detail=str(exc)) from exc
        raise PermissionDenied(name, detail=str(exc)) from exc
    if not stat.S_ISREG(info.st_mode):
        raise NotAFile(name, detail=stat.filemode(info.st_mode))
    if not os.access(path, os.R_OK):
        raise PermissionDenied(name, detail="not readable by this user")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except PermissionError as exc:
        raise PermissionDenied(name, detail=str(exc)) from exc
    except OSError as exc:
        raise PermissionDenied(name, detail=str(exc)) from exc
    if info.st_size == 0:
        raise EmptyFile(name)
    return info.st_size


def probe(path: Path, name: str, size_bytes: int) -> SourceInfo:
    """ffprobe the file (fenced in as in ``runner``) and refuse what holds no audio."""
    args = ["ffprobe", "-hide_banner", "-loglevel", "level+warning"]
    for key, value in runner.input_options().items():
        args += [f"-{key}", value]
    args += ["-show_format", "-show_streams", "-of", "json", runner.input_url(path)]
    result = runner.run(args, timeout_s=PROBE_TIMEOUT_S, name=name)
    if result.returncode != 0:
        raise _unopenable(path, name, result)
    try:
        report: dict[str, Any] = json.loads(result.stdout or b"{}")
    except ValueError as exc:
        raise ProcessingFailed(name, detail=f"ffprobe printed no JSON: {exc}") from exc
    streams: list[dict[str, Any]] = report.get("streams", [])
    fmt: dict[str, Any] = report.get("format", {})
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    video = [s for s in streams if s.get("codec_type") == "video"
             and not s.get("disposition", {}).get("attached_pic")]
    if not audio:
        if video and _is_moving_picture(fmt, video[0]):
            raise NoAudioTrack(name, detail=str(fmt.get("format_name")))
        raise NotAudio(name, detail=f"streams: {[s.get('codec_type') for s in streams]}")
    first = audio[0]
    estimated = "Estimating duration from bitrate" in result.text()
    return SourceInfo(size_bytes=size_bytes, format_name=str(fmt.get("format_name", "")),
                      codec=str(first.get("codec_name", "")),
                      sample_rate=int(first.get("sample_rate") or 0),
                      channels=int(first.get("channels") or 0),
                      duration_s=_duration(first, fmt, has_video=bool(video)),
                      duration_estimated=estimated, has_video=bool(video))


def _unopenable(path: Path, name: str, result: runner.ToolRun) -> Exception:
    text = result.text()
    if "moov atom not found" in text:
        # An MP4/M4A/3GP writes its index last: a copy cut short has none.
        return TruncatedFile(name, detail=result.tail())
    if "not on whitelist" in text:
        return NotAudio(name, detail=result.tail())
    try:
        claims = sniff.claims_media(sniff.head(path))
    except OSError as exc:
        return PermissionDenied(name, detail=str(exc))
    if claims:
        return CorruptFile(name, detail=result.tail())
    return NotAudio(name, detail=result.tail())


def _is_moving_picture(fmt: dict[str, Any], stream: dict[str, Any]) -> bool:
    """A video (has duration or several frames), not a still image in a video container."""
    frames = stream.get("nb_frames")
    if frames is not None and str(frames).isdigit():
        return int(frames) > 1
    return "image" not in str(fmt.get("format_name", "")) and "pipe" not in \
        str(fmt.get("format_name", ""))


def _duration(stream: dict[str, Any], fmt: dict[str, Any], *, has_video: bool) -> float | None:
    """The audio stream's own duration; the container's only for audio-only files
    (a video's container duration may be the picture's, longer than its sound)."""
    for candidate in (stream.get("duration"), _tag_duration(stream),
                      None if has_video else fmt.get("duration")):
        if candidate is None:
            continue
        try:
            value = float(candidate)
        except (TypeError, ValueError):
            continue
        if value > 0:
            return value
    return None


def _tag_duration(stream: dict[str, Any]) -> float | None:
    """Matroska keeps per-stream durations as a ``DURATION`` tag, ``HH:MM:SS.fffffffff``."""
    tags = stream.get("tags") or {}
    text = tags.get("DURATION") or tags.get("duration")
    if not isinstance(text, str) or text.count(":") != 2:
        return None
    hours, minutes, seconds = text.split(":")
    try:
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None
