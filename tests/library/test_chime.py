"""The attention chime: before and after the speech, each part at its own level."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.library import ContentStore, ImportResult, ProcessingSettings, import_file
from tests.library import media

pytestmark = pytest.mark.e2e

CHIME_S = 2.0  # the built-in chime: three notes 0.3 s apart, the last ringing 1.4 s
GAP_S = 0.5
C5, G5 = 523.25, 783.99


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ContentStore:
    return ContentStore(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def chimed(inputs: dict[str, Path], store: ContentStore) -> ImportResult:
    settings = ProcessingSettings(chime=True, chime_target_lufs=-20.0, chime_gap_s=GAP_S)
    return import_file(inputs["m4a"], store, settings)


def test_chimes_frame_the_speech(chimed: ImportResult) -> None:
    audio = chimed.audio
    assert audio.chime
    kept_ms = audio.source_duration_ms - audio.trimmed_start_ms - audio.trimmed_end_ms
    assert audio.speech_duration_ms == pytest.approx(kept_ms, abs=40)
    expected = audio.speech_duration_ms + 2 * (CHIME_S + GAP_S) * 1000
    assert audio.duration_ms == pytest.approx(expected, abs=40)


def test_each_part_has_its_own_loudness(chimed: ImportResult, store: ContentStore) -> None:
    """Speech at -16 LUFS and chimes at the -20 LUFS asked for, measured with ebur128."""
    path = store.path_of(chimed.audio.sha256)
    total_s = chimed.audio.duration_ms / 1000
    intro = media.ebur128(path, 0.0, CHIME_S)
    speech = media.ebur128(path, CHIME_S + GAP_S, total_s - CHIME_S - GAP_S)
    outro = media.ebur128(path, total_s - CHIME_S, total_s)
    assert abs(speech.integrated_lufs - (-16.0)) <= 1.0, speech
    assert abs(intro.integrated_lufs - (-20.0)) <= 1.0, intro
    assert abs(outro.integrated_lufs - (-20.0)) <= 1.0, outro
    assert max(intro.true_peak_dbtp, outro.true_peak_dbtp) <= -1.0
    assert abs(chimed.audio.speech_lufs - speech.integrated_lufs) <= 0.3
    # The gaps are quiet: the chime has rung out before the speech starts.
    gap = media.band_level_db(path, CHIME_S + 0.1, CHIME_S + GAP_S - 0.05, C5)
    assert gap < -45.0, gap


def test_the_chime_rises_before_and_falls_after(chimed: ImportResult,
                                                store: ContentStore) -> None:
    """The tones themselves: C5 leads the intro, G5 leads the outro (and vice versa)."""
    path = store.path_of(chimed.audio.sha256)
    total_s = chimed.audio.duration_ms / 1000
    outro_start = total_s - CHIME_S
    first_intro = (media.band_level_db(path, 0.02, 0.25, C5),
                   media.band_level_db(path, 0.02, 0.25, G5))
    last_intro = (media.band_level_db(path, 0.65, 0.9, C5),
                  media.band_level_db(path, 0.65, 0.9, G5))
    first_outro = (media.band_level_db(path, outro_start + 0.02, outro_start + 0.25, C5),
                   media.band_level_db(path, outro_start + 0.02, outro_start + 0.25, G5))
    assert first_intro[0] > first_intro[1] + 10, first_intro
    assert last_intro[1] > last_intro[0] + 10, last_intro
    assert first_outro[1] > first_outro[0] + 10, first_outro


def test_a_chime_file_is_used_and_normalised_separately(
        inputs: dict[str, Path], store: ContentStore, material: Path) -> None:
    """A station's own chime (here a two-tone ding-dong at a very low level, with silence
    around it that is trimmed) is raised to the chime target on its own."""
    chime = material / "nhac-hieu-rieng.wav"
    media.ffmpeg("-f", "lavfi", "-i",
                 "aevalsrc='0.02*sin(2*PI*880*t)*lt(t,0.6)+0.02*sin(2*PI*660*t)*gte(t,0.6)'"
                 ":s=44100:d=1.2", "-af", "adelay=300:all=1,apad=pad_dur=0.5", chime)
    settings = ProcessingSettings(chime=True, chime_file=chime, chime_target_lufs=-18.0,
                                  chime_gap_s=0.3)
    audio = import_file(inputs["mp3"], store, settings).audio
    path = store.path_of(audio.sha256)
    total_s = audio.duration_ms / 1000
    chime_s = (audio.duration_ms - audio.speech_duration_ms) / 2000 - 0.3
    # 1.2 s of tone, with 0.2 s of the silence around it kept on each side.
    assert chime_s == pytest.approx(1.6, abs=0.05)
    intro = media.ebur128(path, 0.0, chime_s)
    outro = media.ebur128(path, total_s - chime_s, total_s)
    speech = media.ebur128(path, chime_s + 0.3, total_s - chime_s - 0.3)
    assert abs(intro.integrated_lufs - (-18.0)) <= 1.0, intro
    assert abs(outro.integrated_lufs - (-18.0)) <= 1.0, outro
    assert abs(speech.integrated_lufs - (-16.0)) <= 1.0, speech
    assert media.band_level_db(path, 0.25, 0.75, 880) > \
        media.band_level_db(path, 0.25, 0.75, 660) + 10
