"""Pass one: decode the whole file once and measure what the render needs to know.

One ffmpeg run gives, on exactly the signal that will be normalised (mono, 48 kHz,
high-passed): the EBU R128 loudness and true peak (``loudnorm`` with JSON output), the
silences (``silencedetect``, for trimming and for refusing silence-only files), the
number of samples actually decoded (``astats``, to catch a file shorter than its header
promises), and every error the demuxer and decoder reported.

Decoding is capped a little past the configured maximum duration, so a file that lies
about its length costs at most that much work.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from . import horn, runner
from .errors import ProcessingFailed
from .horn import Stream
from .loudness import (
    SAMPLE_RATE,
    Loudness,
    MissingMeasurement,
    parse_loudnorm,
    parse_sample_count,
    parse_sample_counts,
)
from .runner import LogLine, ToolRun
from .settings import ProcessingSettings

_SILENCE_START = re.compile(r"silence_start: (-?[0-9.]+)")
_SILENCE_END = re.compile(r"silence_end: (-?[0-9.]+)")
_EDGE_S = 0.01

InputFactory = Callable[[], Stream]


@dataclass(frozen=True, slots=True)
class Analysis:
    samples: int  # at 48 kHz, gaps in the timestamps filled with silence
    decoded_samples: int  # what the decoder actually produced, at 48 kHz
    loudness: Loudness
    silences: tuple[tuple[float, float], ...]  # (start, end) seconds
    errors: tuple[LogLine, ...]
    log: ToolRun

    @property
    def decoded_s(self) -> float:
        return self.samples / SAMPLE_RATE

    @property
    def gap_s(self) -> float:
        """Audio missing inside the stream: timestamps jumped where packets were lost."""
        return max(0, self.samples - self.decoded_samples) / SAMPLE_RATE

    @property
    def sound_s(self) -> float:
        """Time not inside a detected silence."""
        return max(0.0, self.decoded_s - sum(end - start for start, end in self.silences))

    def speech_span(self, settings: ProcessingSettings) -> tuple[int, int]:
        """First and one-past-last sample to keep, after trimming edge silences."""
        start, end = 0.0, self.decoded_s
        if settings.trim_silence and self.silences:
            first_start, first_end = self.silences[0]
            last_start, last_end = self.silences[-1]
            if first_start <= _EDGE_S:
                start = max(0.0, first_end - settings.silence_keep_s)
            if last_end >= self.decoded_s - _EDGE_S and last_start > start:
                end = min(self.decoded_s, last_start + settings.silence_keep_s)
        first, last = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
        return first, max(first + 1, min(last, self.samples))


def file_input(path: Path, limit_s: float) -> InputFactory:
    """The operator's file, fenced in (see ``runner``), decoding at most ``limit_s``."""
    def make() -> Stream:
        node = ffmpeg.input(runner.input_url(path), t=f"{limit_s:.3f}",
                            **runner.input_options())
        return node["a:0"]
    return make


def lavfi_input(graph: str) -> InputFactory:
    """A generated signal (the built-in chime)."""
    def make() -> Stream:
        return ffmpeg.input(graph, f="lavfi")["a:0"]
    return make


def analyse(source: InputFactory, name: str, settings: ProcessingSettings,
            timeout_s: float) -> Analysis:
    decoded = source().filter("aresample", SAMPLE_RATE).filter(
        "astats", measure_perchannel="none", measure_overall="Number_of_samples")
    stream = horn.highpass(horn.prepare(decoded), settings.highpass_hz)
    stream = (stream.filter("silencedetect", noise=f"{settings.silence_threshold_db}dB",
                            duration=settings.silence_min_s)
              .filter("astats", measure_perchannel="none", measure_overall="Number_of_samples")
              .filter("loudnorm", I=settings.target_lufs, TP=settings.true_peak_dbtp,
                      print_format="json"))
    args = ffmpeg.output(stream, "-", f="null").global_args(*runner.GLOBAL_ARGS).compile()
    result = runner.run(args, timeout_s=timeout_s, name=name)
    nothing = Loudness(float("-inf"), float("-inf"), 0.0, -70.0)
    try:
        decoded_samples, samples = parse_sample_counts(result.lines)
        loudness = parse_loudnorm(result.lines) if samples else nothing
    except (MissingMeasurement, ValueError) as exc:
        if result.returncode != 0 or result.errors():
            decoded_samples, samples, loudness = 0, 0, nothing
        else:
            raise ProcessingFailed(name, detail=f"{exc}; {result.tail()}") from exc
    return Analysis(samples=samples, decoded_samples=decoded_samples, loudness=loudness,
                    silences=_silences(result, samples / SAMPLE_RATE),
                    errors=tuple(result.errors()), log=result)


def first_error_at(source: InputFactory, name: str, timeout_s: float) -> float:
    """Seconds decoded cleanly before the first decoding error (ffmpeg ``-xerror``).

    Damage at the very end of what decodes is what a cut-short copy looks like; damage
    earlier is corruption. Only run when the analysis saw errors.
    """
    stream = horn.prepare(source()).filter("astats", measure_perchannel="none",
                                           measure_overall="Number_of_samples")
    args = (ffmpeg.output(stream, "-", f="null")
            .global_args(*runner.GLOBAL_ARGS, "-xerror").compile())
    result = runner.run(args, timeout_s=timeout_s, name=name)
    try:
        return parse_sample_count(result.lines) / SAMPLE_RATE
    except MissingMeasurement:
        return 0.0


def _silences(result: ToolRun, total_s: float) -> tuple[tuple[float, float], ...]:
    """Silences as (start, end), clamped to what was decoded; one still open at the end
    of the stream (older ffmpeg prints no final ``silence_end``) runs to the end."""
    found: list[tuple[float, float]] = []
    start: float | None = None
    for line in result.lines:
        if not line.source.startswith("silencedetect"):
            continue
        if (match := _SILENCE_START.search(line.text)) is not None:
            start = max(0.0, float(match[1]))
        elif (match := _SILENCE_END.search(line.text)) is not None and start is not None:
            found.append((start, min(total_s, float(match[1]))))
            start = None
    if start is not None and start < total_s:
        found.append((start, total_s))
    return tuple(found)
