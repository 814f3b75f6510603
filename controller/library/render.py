"""Pass two: the bulletin as it will air, encoded to Opus in an Ogg file.

The speech runs through the horn chain (``horn``) with the gain pass one computed,
between the chimes when they are on, into libopus: mono, 48 kHz, the configured
bitrate as *constrained* VBR (libopus' unconstrained VBR overshoots speech from
64 kbit/s up by more than half, so the setting would not say what is stored and sent to
every agent). The same run measures the speech after the limiter (``asplit`` into
``loudnorm``), so the caller can see whether the limiter cost loudness and render again.

The output is bit-exact for the same input and settings (no random Ogg serial number,
no encoder version string, no metadata carried over from the source), so importing
the same file twice yields the same bytes and the content store keeps one copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from . import horn, runner
from .chime import Chimes
from .errors import ProcessingFailed
from .intake import AcceptedSource
from .loudness import SAMPLE_RATE, Loudness, MissingMeasurement, parse_loudnorm
from .settings import ProcessingSettings


@dataclass(frozen=True, slots=True)
class Rendered:
    speech: Loudness  # measured after the limiter, before the encoder
    speech_start: int  # first sample of the speech in the output
    speech_samples: int


def render(accepted: AcceptedSource, span: tuple[int, int], gain_db: float,
           settings: ProcessingSettings, chimes: Chimes | None, out: Path) -> Rendered:
    first, last = span
    speech = horn.highpass(horn.prepare(accepted.source()), settings.highpass_hz)
    speech = (speech.filter("atrim", start_sample=first, end_sample=last)
              .filter("asetpts", "N/SR/TB"))
    speech = horn.gain_and_limit(speech, gain_db, settings.limiter_ceiling_dbtp)
    branches = speech.filter_multi_output("asplit", 2)
    aired, metered = branches[0], branches[1]
    if chimes is not None:
        intro = ffmpeg.input(runner.input_url(chimes.intro))["a:0"]
        outro = ffmpeg.input(runner.input_url(chimes.outro))["a:0"]
        aired = ffmpeg.concat(intro, aired, outro, v=0, a=1)
    encoded = ffmpeg.output(aired, runner.input_url(out), acodec="libopus", ac=1,
                            ar=SAMPLE_RATE, f="ogg", map_metadata=-1,
                            fflags="+bitexact", vbr="constrained",
                            **{"b:a": f"{settings.bitrate_kbps}k",
                                                  "flags:a": "+bitexact"})
    meter = ffmpeg.output(metered.filter("loudnorm", I=settings.target_lufs,
                                         TP=settings.true_peak_dbtp, print_format="json"),
                          "-", f="null")
    args = (ffmpeg.merge_outputs(encoded, meter).global_args(*runner.GLOBAL_ARGS)
            .overwrite_output().compile())
    result = runner.run(args, timeout_s=accepted.timeout_s, name=accepted.name)
    if result.returncode != 0:
        raise ProcessingFailed(accepted.name, detail=result.tail())
    try:
        loudness = parse_loudnorm(result.lines)
    except (MissingMeasurement, ValueError) as exc:
        raise ProcessingFailed(accepted.name, detail=f"{exc}: {result.tail()}") from exc
    return Rendered(speech=loudness,
                    speech_start=chimes.intro_samples if chimes is not None else 0,
                    speech_samples=last - first)
