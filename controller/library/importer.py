"""Importing one bulletin: any audio or video file in, one normalised Opus item stored.

The loudness normalisation is two-pass EBU R128: pass one (``analysis``) measures the
speech with ``loudnorm``; pass two (``render``) applies the linear gain that moves the
measured loudness onto the target, then the true-peak limiter. Speech peaks sit 15-20 dB
above its loudness, so at -16 LUFS the limiter often shaves a few dB of peaks, and that
costs loudness. The render therefore measures its own speech after the limiter; when it
misses the target by more than ``loudness_tolerance_lu`` it is redone with the gain
corrected (at most ``MAX_CORRECTIONS`` times, see ``next_gain``).

Everything an import writes goes to the store's staging area or a private temporary
directory; only a finished, measured file is moved into the store, so a refusal or a
failure at any step leaves the store as it was.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from .chime import prepare_chimes
from .intake import accept
from .loudness import SAMPLE_RATE
from .metering import measure
from .model import ImportResult, ProcessedAudio
from .render import Rendered, render
from .settings import ProcessingSettings
from .store import ContentStore

log = logging.getLogger("loaxa.library")

MAX_CORRECTIONS = 3
# Past this much gain above the linear one, more gain would only mean more limiting.
MAX_EXTRA_GAIN_DB = 10.0
DEFAULT_SETTINGS = ProcessingSettings()


class Stage(StrEnum):
    """The steps of an import, in order, for progress reports (see ``import_file``)."""

    CHECKING = "checking"  # probe, integrity, pass one (decode and measure everything)
    RENDERING = "rendering"  # pass two (filter, normalise, encode), possibly redone
    MEASURING = "measuring"  # the stored item's own loudness and length
    STORING = "storing"  # moving it into the content store


ProgressHook = Callable[[Stage], None]


def _no_progress(_stage: Stage) -> None:
    pass


def import_file(path: Path | str, store: ContentStore,
                settings: ProcessingSettings = DEFAULT_SETTINGS, *,
                name: str | None = None,
                progress: ProgressHook = _no_progress) -> ImportResult:
    """Process ``path`` and store the result; ``name`` is what the operator calls the file
    (an upload's original name), used in messages and kept as ``source_name``.
    ``progress`` hears each ``Stage`` as it starts (an operator watches a progress bar).

    Raises an ``ImportRefused`` subclass for a file that cannot become an item and
    ``ProcessingFailed``/``ToolMissing`` when the station itself is at fault.
    """
    path = Path(path)
    name = name or path.name
    progress(Stage.CHECKING)
    accepted = accept(path, name, settings, settings.max_duration_s)
    span = accepted.analysis.speech_span(settings)
    gain = settings.target_lufs - accepted.analysis.loudness.integrated_lufs
    with tempfile.TemporaryDirectory(prefix="loaxa-import-") as work, \
            store.staging() as staged:
        chimes = prepare_chimes(settings, Path(work)) if settings.chime else None
        progress(Stage.RENDERING)
        rendered = render(accepted, span, gain, settings, chimes, staged)
        tried = [(gain, rendered.speech.integrated_lufs)]
        for _attempt in range(MAX_CORRECTIONS):
            shortfall = settings.target_lufs - tried[-1][1]
            if abs(shortfall) <= settings.loudness_tolerance_lu:
                break
            gain = next_gain(tried, settings.target_lufs, ceiling=tried[0][0] + MAX_EXTRA_GAIN_DB)
            log.info("%s: speech at %.2f LUFS after the limiter; gain %.2f dB next", name,
                     tried[-1][1], gain)
            rendered = render(accepted, span, gain, settings, chimes, staged)
            tried.append((gain, rendered.speech.integrated_lufs))
        if abs(settings.target_lufs - tried[-1][1]) > settings.loudness_tolerance_lu:
            log.warning("%s: speech ends at %.2f LUFS (target %.1f): the limiter cannot give "
                        "more without crushing the peaks", name, tried[-1][1],
                        settings.target_lufs)
        progress(Stage.MEASURING)
        whole = measure(staged, name, accepted.timeout_s)
        # Without chimes the speech is the whole item: one measurement serves both.
        speech = whole if chimes is None else measure(staged, name, accepted.timeout_s,
                                                      _speech_window(rendered))
        progress(Stage.STORING)
        stored = store.put(staged)
    info = accepted.info
    audio = ProcessedAudio(
        sha256=stored.sha256, size_bytes=stored.size_bytes,
        duration_ms=whole.duration_ms, integrated_lufs=whole.loudness.integrated_lufs,
        true_peak_dbtp=whole.loudness.true_peak_dbtp,
        speech_duration_ms=speech.duration_ms, speech_lufs=speech.loudness.integrated_lufs,
        speech_true_peak_dbtp=speech.loudness.true_peak_dbtp,
        speech_lra_lu=speech.loudness.range_lu, target_lufs=settings.target_lufs,
        gain_db=round(gain, 2), bitrate_bps=settings.bitrate_bps, sample_rate=SAMPLE_RATE,
        channels=1, codec="opus", container="ogg", chime=chimes is not None,
        trimmed_start_ms=_ms(span[0]),
        trimmed_end_ms=_ms(max(0, accepted.analysis.samples - span[1])),
        source_name=name, source_format=info.format_name, source_codec=info.codec,
        source_size_bytes=info.size_bytes, source_duration_ms=_ms(accepted.analysis.samples))
    log.info("imported %s as %s: %.2f LUFS speech, %.2f dBTP, %d ms, %s", name,
             audio.sha256, audio.speech_lufs, audio.true_peak_dbtp, audio.duration_ms,
             "new" if stored.created else "already stored")
    return ImportResult(audio, newly_stored=stored.created)


def next_gain(tried: list[tuple[float, float]], target: float, ceiling: float) -> float:
    """The next gain to try, from the (gain, loudness) pairs rendered so far.

    The first correction assumes 1 LU per dB (an idle limiter); later ones use the slope
    the renders showed (a busy limiter returns only a fraction of each extra dB), i.e.
    the secant method, with the slope kept within [0.2, 1].
    """
    gain, loudness = tried[-1]
    slope = 1.0
    if len(tried) >= 2:
        previous_gain, previous_loudness = tried[-2]
        if gain != previous_gain:
            slope = (loudness - previous_loudness) / (gain - previous_gain)
        slope = min(1.0, max(0.2, slope))
    return min(ceiling, gain + (target - loudness) / slope)


def _speech_window(rendered: Rendered) -> tuple[int, int]:
    return rendered.speech_start, rendered.speech_start + rendered.speech_samples


def _ms(samples: int) -> int:
    return round(samples * 1000 / SAMPLE_RATE)
