"""The attention chime ("nhạc hiệu") aired before and after a bulletin.

The built-in chime is the public-address convention: three bell tones rising before an
announcement, the same three falling after it. The notes (C5, E5, G5 = 523-784 Hz, a
major triad, with two weaker harmonics up to 2.4 kHz) sit in the band horns reproduce
best and well above the speech high-pass, so the chime cuts through street noise
without needing to be louder than the voice. Each tone has a 4 ms attack (no click) and
an exponential decay like a struck bell.

A chime is normalised on its own, to ``chime_target_lufs``: a short tonal signal and
speech have very different peak-to-loudness ratios, so one gain for both would leave
either the chime shrill or the speech limited. The gap (``chime_gap_s``) is rendered as
part of each chime file, so the speech starts at a known sample of the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from . import horn, runner
from .analysis import Analysis, InputFactory, analyse, lavfi_input
from .errors import BadChime, ImportRefused, ProcessingFailed
from .intake import accept
from .loudness import SAMPLE_RATE, parse_sample_count
from .settings import ProcessingSettings

NOTES_HZ = (523.25, 659.25, 783.99)
NOTE_SPACING_S = 0.3
RING_S = 1.4  # how long the last note rings
HARMONICS = ((1, 1.0), (2, 0.35), (3, 0.12))
DECAY_PER_S = 3.5
ATTACK_S = 0.004
CHIME_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Chimes:
    """Rendered, normalised chimes (float WAV, 48 kHz mono) and their lengths in samples."""

    intro: Path
    outro: Path
    intro_samples: int
    outro_samples: int


def builtin_expression(rising: bool) -> str:
    """An ``aevalsrc`` expression for the three-tone chime."""
    notes = NOTES_HZ if rising else tuple(reversed(NOTES_HZ))
    terms = []
    for index, frequency in enumerate(notes):
        onset = index * NOTE_SPACING_S
        local = f"(t-{onset:.3f})"
        tone = "+".join(f"{weight}*sin(2*PI*{frequency * harmonic:.2f}*{local})"
                        for harmonic, weight in HARMONICS)
        envelope = (f"gte(t,{onset:.3f})*min(1,{local}/{ATTACK_S})"
                    f"*exp(-{DECAY_PER_S}*{local})")
        terms.append(f"{envelope}*({tone})")
    return "0.2*(" + "+".join(terms) + ")"


def builtin_graph(rising: bool) -> str:
    duration = (len(NOTES_HZ) - 1) * NOTE_SPACING_S + RING_S
    return (f"aevalsrc=exprs='{builtin_expression(rising)}'"
            f":sample_rate={SAMPLE_RATE}:channel_layout=mono:duration={duration:.3f}")


def prepare_chimes(settings: ProcessingSettings, workdir: Path) -> Chimes:
    """Render both chimes into ``workdir``; a bad chime file raises ``BadChime``."""
    if settings.chime_file is not None:
        try:
            accepted = accept(settings.chime_file, settings.chime_file.name, settings,
                              settings.max_chime_s)
        except ImportRefused as refusal:
            raise BadChime(settings.chime_file.name, refusal) from refusal
        intro_source = outro_source = accepted.source
        intro_analysis = outro_analysis = accepted.analysis
    else:
        intro_source, outro_source = lavfi_input(builtin_graph(True)), lavfi_input(
            builtin_graph(False))
        intro_analysis = analyse(intro_source, "chime", settings, CHIME_TIMEOUT_S)
        outro_analysis = analyse(outro_source, "chime", settings, CHIME_TIMEOUT_S)
    intro, intro_samples = _render(intro_source, intro_analysis, settings,
                                   workdir / "intro.wav", gap_after=True)
    outro, outro_samples = _render(outro_source, outro_analysis, settings,
                                   workdir / "outro.wav", gap_after=False)
    return Chimes(intro, outro, intro_samples, outro_samples)


def _render(source: InputFactory, analysis: Analysis, settings: ProcessingSettings,
            out: Path, *, gap_after: bool) -> tuple[Path, int]:
    if analysis.loudness.is_silent:
        raise ProcessingFailed("chime", detail="the chime measured as silence")
    gain = settings.chime_target_lufs - analysis.loudness.integrated_lufs
    first, last = analysis.speech_span(settings)
    stream = horn.highpass(horn.prepare(source()), settings.highpass_hz)
    stream = stream.filter("atrim", start_sample=first, end_sample=last).filter(
        "asetpts", "N/SR/TB")
    stream = horn.gain_and_limit(stream, gain, settings.limiter_ceiling_dbtp)
    gap_ms = round(settings.chime_gap_s * 1000)
    if gap_ms and gap_after:
        stream = stream.filter("apad", pad_dur=f"{settings.chime_gap_s:.3f}")
    elif gap_ms:
        stream = stream.filter("adelay", delays=gap_ms, all=1)
    stream = stream.filter("astats", measure_perchannel="none",
                           measure_overall="Number_of_samples")
    args = (ffmpeg.output(stream, runner.input_url(out), acodec="pcm_f32le", ac=1,
                          ar=SAMPLE_RATE, f="wav")
            .global_args(*runner.GLOBAL_ARGS).overwrite_output().compile())
    result = runner.run(args, timeout_s=CHIME_TIMEOUT_S, name="chime")
    if result.returncode != 0:
        raise ProcessingFailed("chime", detail=result.tail())
    return out, parse_sample_count(result.lines)

