"""The signal chain for outdoor horn loudspeakers, as ffmpeg-python filter nodes.

Horn loudspeakers on commune poles (re-entrant "loa nén" of 15-50 W) are specified from
about 200-300 Hz up to 7-10 kHz: below that the horn mouth is too small to load the
air, so bass only moves the driver, heats the voice coil and eats amplifier headroom
that speech needs. Speech intelligibility lives between ~300 Hz and 4 kHz; men's voice
fundamentals reach down to ~85 Hz, but the ear rebuilds a missing fundamental from the
harmonics, so cutting it costs no intelligibility. Hence the high-pass corner at 180 Hz
with a 24 dB/octave slope (two cascaded 2-pole Butterworth sections, -6 dB at the
corner): at 90 Hz the signal is already 24 dB down, yet the lowest harmonics that carry
a male voice's pitch (~200-300 Hz) pass almost untouched.

Loudness: the gain is linear (one number for the whole bulletin, so the speaker's own
dynamics survive), followed by a look-ahead limiter that holds the peaks. The limiter
runs at 192 kHz so that it sees inter-sample peaks (what a true-peak meter and the DAC
see), the same oversampling ``loudnorm`` measures true peak with.
"""

from __future__ import annotations

from typing import Any

from .loudness import SAMPLE_RATE

Stream = Any  # an ffmpeg-python stream node (the library ships no type information)

OVERSAMPLED_RATE = 4 * SAMPLE_RATE
LIMITER_ATTACK_MS = 5.0  # look-ahead: long enough to catch a plosive without distortion
LIMITER_RELEASE_MS = 60.0  # short enough not to duck the following syllable


def prepare(stream: Stream) -> Stream:
    """Float samples, 48 kHz, mono, gap-free; timestamps counted in samples from zero.

    Decoders drop what they cannot decode, and a dropped packet would silently pull the
    rest of the bulletin forward. ffmpeg's AMR decoders drop every "no data"/comfort-
    noise frame of discontinuous transmission, which is how phones record pauses, so
    sentences would run together. ``aresample`` with ``async`` puts silence wherever
    the timestamps say audio is missing. The counted timestamps then make every
    position (silence found in the analysis, trims in the render, the speech span in
    the output) the same sample in every pass.
    """
    return (stream.filter("aresample", SAMPLE_RATE, **{"async": 1})
            .filter("aformat", sample_fmts="flt", sample_rates=SAMPLE_RATE,
                    channel_layouts="mono")
            .filter("asetpts", "N/SR/TB"))


def highpass(stream: Stream, corner_hz: float) -> Stream:
    if corner_hz <= 0:
        return stream
    return (stream.filter("highpass", f=corner_hz, poles=2)
            .filter("highpass", f=corner_hz, poles=2))


def gain_and_limit(stream: Stream, gain_db: float, ceiling_dbtp: float) -> Stream:
    """Linear gain, then a true-peak limiter holding ``ceiling_dbtp``."""
    limit = 10 ** (ceiling_dbtp / 20)
    return (stream.filter("volume", volume=f"{gain_db:.3f}dB")
            .filter("aresample", OVERSAMPLED_RATE)
            .filter("alimiter", limit=f"{limit:.6f}", attack=LIMITER_ATTACK_MS,
                    release=LIMITER_RELEASE_MS, level=0, latency=1)
            .filter("aresample", SAMPLE_RATE))
