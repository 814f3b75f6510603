"""Running ffmpeg and ffprobe: bounded in time, fenced in, and with a readable log.

Operators' files are untrusted. ffmpeg would happily follow a playlist inside a
"bulletin.mp3" to the network or to other local files, so every input is opened through
the ``file:`` protocol only and only with the demuxers of real audio/video containers.
Each run has a timeout, and the log is captured with level prefixes so callers can tell
a decoder's error from information.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ProcessingFailed, ToolMissing

log = logging.getLogger("loaxa.library")

# Demuxers of the containers bulletins arrive in (phones, recorders, district
# exports, video messages). Images, playlists, subtitles and raw-data demuxers stay out.
DEMUXERS = ("aac", "ac3", "aiff", "amr", "amrnb", "amrwb", "ape", "asf", "au", "avi", "caf",
            "dts", "eac3", "flac", "flv", "matroska", "mov", "mp3", "mpeg", "mpegts", "ogg",
            "w64", "wav", "wv")
PROTOCOLS = "file"
GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info")

_LINE = re.compile(r"^(?:\[(?P<source>[^\]]*?)(?: @ 0x[0-9a-f]+)?\] )?"
                   r"\[(?P<level>panic|fatal|error|warning|info|verbose|debug|trace)\] "
                   r"(?P<text>.*)$")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of ffmpeg's log; continuation lines inherit the source and level."""

    level: str
    source: str
    text: str


@dataclass(frozen=True, slots=True)
class ToolRun:
    returncode: int
    stdout: bytes
    lines: tuple[LogLine, ...]

    def errors(self) -> list[LogLine]:
        return [line for line in self.lines if line.level in ("panic", "fatal", "error")]

    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def tail(self, count: int = 8) -> str:
        """The last lines worth logging when something went wrong."""
        worth = [line for line in self.lines if line.level != "info"] or list(self.lines)
        return " | ".join(f"{line.source}: {line.text}".strip(": ") for line in worth[-count:])


def input_url(path: Path) -> str:
    """An absolute ``file:`` URL, so names like ``concat:a|b`` or ``-x.mp3`` stay names."""
    return "file:" + os.path.abspath(path)


def input_options() -> dict[str, str]:
    return {"protocol_whitelist": PROTOCOLS, "format_whitelist": ",".join(DEMUXERS)}


def parse_log(stderr: str) -> tuple[LogLine, ...]:
    lines: list[LogLine] = []
    level, source = "info", ""
    for raw in stderr.splitlines():
        match = _LINE.match(raw)
        if match:
            level, source = match["level"], (match["source"] or "").strip()
            lines.append(LogLine(level, source, match["text"].rstrip()))
        elif raw.strip():
            lines.append(LogLine(level, source, raw.rstrip()))
    return tuple(lines)


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(name)
    return found


def run(args: Sequence[str], *, timeout_s: float, name: str) -> ToolRun:
    """Run ``args`` (argv[0] is ``ffmpeg`` or ``ffprobe``); ``name`` is the user's file name.

    A timeout or a missing program raises ``ProcessingFailed``/``ToolMissing``; a
    non-zero exit is returned, because what it means depends on the caller.
    """
    argv = [tool(args[0]), *args[1:]]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProcessingFailed(name, detail=f"{args[0]} timed out after {timeout_s:.0f} s") \
            from exc
    except OSError as exc:
        raise ProcessingFailed(name, detail=f"{args[0]} could not start: {exc}") from exc
    result = ToolRun(done.returncode, done.stdout,
                     parse_log(done.stderr.decode("utf-8", "replace")))
    log.debug("%s exited %s: %s", " ".join(argv), done.returncode, result.tail())
    return result


def timeout_for(duration_s: float) -> float:
    """Generous: ffmpeg filters speech hundreds of times faster than real time."""
    return 120.0 + duration_s
