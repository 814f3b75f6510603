"""The recording matches the source: what the fake card presented is the decoded item,
sample for sample, starting at the slot's start (Vietnamese speech via espeak-ng)."""

from __future__ import annotations

import logging
import re

import pytest

from agent.playout.pcm import RATE
from protocols.messages import PlayOutcome

from .audio_compare import best_lag, correlation
from .conftest import Library
from .rig import Rig, slot


def test_recording_cross_correlates_with_the_decoded_item(library: Library,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="loaxa.playout")
    item = library.speech
    reference = item.decoded()
    frames = len(reference) // 2
    with Rig(library.cache, drift_ppm=0.0) as rig:
        t = rig.wall_in(1.0)
        rig.engine.volume = 100
        rig.engine.set_timeline([slot("speech", item, t)])
        rig.wait_plays(1, timeout=30)
    play = rig.play_of("speech")
    assert play.outcome == PlayOutcome.AIRED
    expected = round(rig.sink.device_frame_at(rig.mono_of(t)))
    margin = RATE // 10
    recording = rig.sink.recording(expected - margin, frames + 2 * margin)
    # the whole item, searched over +-100 ms: one peak, at the expected lag
    lag, corr = best_lag(recording, reference)
    assert abs(lag - margin) <= 1, lag - margin
    # Undisturbed, the recording is the item sample for sample. An overloaded machine can
    # disturb it: an underrun or a late decoder costs a gap and a resync, and a late
    # sink thread makes the engine see an error it corrects by single samples (each one
    # shifts what follows by 1/48 ms). Those are counted, and loosen the bound.
    underruns = rig.sink.underruns()
    gaps = [code for code, _ in rig.events if code in ("playout-resync", "decoder-late")]
    corrections = sum(int(m.group(1)) for m in (
        re.search(r"(\d+) single-sample corrections", r.getMessage()) for r in caplog.records)
        if m)
    disturbed = underruns or gaps or corrections
    assert corr > (0.98 if disturbed else 0.999), (corr, underruns, gaps, corrections)
    # and a counter-check that the comparison can fail: a shifted reference does not fit
    assert correlation(recording[(margin + 480) * 2:], reference) < 0.9
