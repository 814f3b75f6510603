"""Every format operators receive becomes a normalised mono 48 kHz Opus item.

Loudness is checked with ffmpeg's ``ebur128`` filter on the stored file; the pipeline
itself measures with ``loudnorm``, so the two do not share a code path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from controller.library import ContentStore, ImportResult, ProcessingSettings, import_file
from tests.library import media

pytestmark = pytest.mark.e2e

SETTINGS = ProcessingSettings()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ContentStore:
    return ContentStore(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def imported(inputs: dict[str, Path], store: ContentStore) -> dict[str, ImportResult]:
    return {fmt: import_file(path, store, SETTINGS) for fmt, path in inputs.items()}


@pytest.mark.parametrize("fmt", media.FORMATS)
def test_speech_is_normalised_to_the_target(fmt: str, imported: dict[str, ImportResult],
                                            store: ContentStore) -> None:
    audio = imported[fmt].audio
    measured = media.ebur128(store.path_of(audio.sha256))
    assert abs(measured.integrated_lufs - SETTINGS.target_lufs) <= 1.0, measured
    # The ceiling is -1.5 dBTP; Opus may overshoot a little but not by half a dB.
    assert measured.true_peak_dbtp <= SETTINGS.true_peak_dbtp + 0.5, measured
    # The pipeline's own record agrees with the independent meter.
    assert abs(audio.speech_lufs - measured.integrated_lufs) <= 0.3
    assert abs(audio.true_peak_dbtp - measured.true_peak_dbtp) <= 0.3


@pytest.mark.parametrize("fmt", media.FORMATS)
def test_output_is_mono_48k_opus_in_ogg(fmt: str, imported: dict[str, ImportResult],
                                        store: ContentStore) -> None:
    audio = imported[fmt].audio
    path = store.path_of(audio.sha256)
    assert media.stream_info(path) == {"format": "ogg", "codec": "opus", "channels": 1,
                                       "sample_rate": 48000}
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == audio.sha256
    assert len(data) == audio.size_bytes
    assert (audio.codec, audio.container, audio.channels, audio.sample_rate) == \
        ("opus", "ogg", 1, 48000)
    # ~24 kbit/s of speech, not a lossless or 128 kbit/s file.
    assert 12_000 <= audio.average_bitrate_bps <= 40_000, audio.average_bitrate_bps


@pytest.mark.parametrize("fmt", media.FORMATS)
def test_silence_around_the_speech_is_trimmed(fmt: str,
                                              imported: dict[str, ImportResult]) -> None:
    audio = imported[fmt].audio
    # 1 s of silence before the speech, 0.2 s of it kept (raw AAC keeps its encoder delay:
    # it has no edit list to say where the audio starts).
    assert 600 <= audio.trimmed_start_ms <= 1000, audio
    if fmt == "amr":
        # Phones' AMR (and SoX's) codes silence as discontinuous transmission; the
        # trailing DTX frames carry no audio, so there is no tail left to trim.
        assert audio.trimmed_end_ms <= 1900, audio
    else:
        # 1.5 s of silence after it plus espeak's own final pause, 0.2 s kept.
        assert 1100 <= audio.trimmed_end_ms <= 1900, audio
    kept_ms = audio.source_duration_ms - audio.trimmed_start_ms - audio.trimmed_end_ms
    assert abs(kept_ms - audio.duration_ms) <= 40, audio
    assert audio.speech_duration_ms == audio.duration_ms  # no chime


def test_every_format_keeps_the_same_speech_length(imported: dict[str, ImportResult]) -> None:
    """Pauses inside the speech survive every decoder (AMR DTX pauses included)."""
    durations = sorted(result.audio.duration_ms for result in imported.values())
    median = durations[len(durations) // 2]
    assert all(abs(d - median) <= 150 for d in durations), \
        {fmt: r.audio.duration_ms for fmt, r in imported.items()}


def test_the_record_describes_the_source(imported: dict[str, ImportResult],
                                         inputs: dict[str, Path]) -> None:
    codecs = {fmt: result.audio.source_codec for fmt, result in imported.items()}
    assert codecs == {"mp3": "mp3", "wav": "pcm_s16le", "m4a": "aac", "aac": "aac",
                      "ogg": "vorbis", "opus": "opus", "flac": "flac", "wma": "wmav2",
                      "amr": "amr_nb", "mp4": "aac", "mkv": "mp3"}
    for fmt, result in imported.items():
        audio = result.audio
        assert audio.source_name == inputs[fmt].name
        assert audio.source_size_bytes == inputs[fmt].stat().st_size
        assert audio.bitrate_bps == 24_000 and audio.target_lufs == -16.0
        assert not audio.chime


def test_every_format_was_stored_as_its_own_item(imported: dict[str, ImportResult],
                                                 store: ContentStore) -> None:
    hashes = {result.audio.sha256 for result in imported.values()}
    assert len(hashes) == len(media.FORMATS)
    assert all(result.newly_stored for result in imported.values())
    assert set(store) == hashes


def test_an_mp3_with_cover_art_is_audio(store: ContentStore, master: Path,
                                        tmp_path: Path) -> None:
    """District MP3s often carry a picture (an attached-picture video stream)."""
    cover = tmp_path / "bia.png"
    media.ffmpeg("-f", "lavfi", "-i", "color=c=blue:size=64x64", "-frames:v", "1", cover)
    song = tmp_path / "co-anh-bia.mp3"
    media.ffmpeg("-i", master, "-i", cover, "-map", "0:a", "-map", "1:v", "-c:a", "libmp3lame",
                 "-b:a", "48k", "-c:v", "png", "-disposition:v", "attached_pic", song)
    audio = import_file(song, store, SETTINGS).audio
    assert audio.source_codec == "mp3"
    assert abs(media.ebur128(store.path_of(audio.sha256)).integrated_lufs + 16.0) <= 1.0


def test_bass_is_cut_for_the_horns(store: ContentStore, tmp_path: Path) -> None:
    """60 Hz (mains hum, handling noise) and 1 kHz at equal level go in; the hum comes
    out more than 30 dB down, while 1 kHz and 2 kHz keep their balance."""
    tones = tmp_path / "u-u.wav"
    media.ffmpeg("-f", "lavfi", "-i",
                 "aevalsrc='0.2*sin(2*PI*60*t)+0.2*sin(2*PI*1000*t)+0.2*sin(2*PI*2000*t)'"
                 ":s=48000:d=3", "-c:a", "pcm_s16le", tones)
    path = store.path_of(import_file(tones, store, SETTINGS).audio.sha256)
    hum, voice, upper = (media.band_level_db(path, 0.5, 2.5, f) for f in (60, 1000, 2000))
    assert voice - hum > 30.0, (hum, voice)
    assert abs(voice - upper) < 2.0, (voice, upper)
