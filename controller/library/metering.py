"""Measuring a finished item as a listener gets it: decoded from the stored Opus file.

The figures kept with a library item (loudness, true peak, duration) describe the file
agents will play, codec and all, not the signal before encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from . import runner
from .errors import ProcessingFailed
from .loudness import SAMPLE_RATE, Loudness, MissingMeasurement, parse_loudnorm, parse_sample_count


@dataclass(frozen=True, slots=True)
class Measurement:
    loudness: Loudness
    samples: int

    @property
    def duration_ms(self) -> int:
        return round(self.samples * 1000 / SAMPLE_RATE)


def measure(path: Path, name: str, timeout_s: float,
            span: tuple[int, int] | None = None) -> Measurement:
    """Loudness, true peak and length of ``path`` (or of samples ``span`` of it)."""
    stream = ffmpeg.input(runner.input_url(path))["a:0"].filter(
        "aformat", sample_fmts="flt", sample_rates=SAMPLE_RATE, channel_layouts="mono")
    if span is not None:
        stream = stream.filter("atrim", start_sample=span[0], end_sample=span[1])
    stream = (stream.filter("astats", measure_perchannel="none",
                            measure_overall="Number_of_samples")
              .filter("loudnorm", print_format="json"))
    args = ffmpeg.output(stream, "-", f="null").global_args(*runner.GLOBAL_ARGS).compile()
    result = runner.run(args, timeout_s=timeout_s, name=name)
    try:
        if result.returncode != 0:
            raise MissingMeasurement(f"ffmpeg exited {result.returncode}")
        return Measurement(parse_loudnorm(result.lines), parse_sample_count(result.lines))
    except (MissingMeasurement, ValueError) as exc:
        raise ProcessingFailed(name, detail=f"measuring the output: {exc}; "
                                            f"{result.tail()}") from exc
