"""The demo's bulletins: Vietnamese speech made on the spot, as an operator's recording.

espeak-ng (a Debian package with Vietnamese voices) reads the text into a WAV file,
which the demo then uploads to the station's library like any recording; the library's
import pipeline does the rest (loudness, filtering, Opus). Where espeak-ng is missing,
ffmpeg makes a speech-like stand-in (a voiced tone with syllable-rate amplitude
modulation and pauses) of about the same length, so the demo still runs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHARS_PER_SECOND = 14.0  # espeak-ng's Vietnamese voice at its default rate, roughly


class MediaError(RuntimeError):
    """Neither espeak-ng nor ffmpeg could make the recording; the message says why."""


def speak(text: str, path: Path) -> Path:
    """A WAV file of ``text`` read in Vietnamese (or its stand-in without espeak-ng)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    espeak = shutil.which("espeak-ng")
    if espeak is not None:
        command = [espeak, "-v", "vi", "-w", str(path), text]
    else:
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise MediaError("neither espeak-ng nor ffmpeg is installed")
        seconds = max(2.0, len(text) / CHARS_PER_SECOND)
        voice = ("aevalsrc='0.4*sin(2*PI*(140+30*sin(2*PI*0.7*t))*t)"
                 "*(0.5+0.5*sin(2*PI*4*t))*gt(mod(t,2.5),0.3)':s=16000")
        command = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                   "-f", "lavfi", "-i", voice, "-t", f"{seconds:.2f}", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0 or not path.exists():
        raise MediaError(done.stderr.strip() or f"{command[0]} failed")
    return path
