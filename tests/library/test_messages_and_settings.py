"""Error messages in both languages, and the settings' validation."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from pydantic import ValidationError

from controller import i18n
from controller.library import (
    BadChime,
    CorruptFile,
    ProcessingFailed,
    ProcessingSettings,
    ToolMissing,
    TooLong,
)
from controller.library.errors import clock_text


def test_a_message_is_translated_when_read_not_when_raised() -> None:
    try:
        i18n.set_language("en")
        error = CorruptFile("a.mp3", detail="Header missing")
        i18n.set_language("vi")
        assert str(error).startswith("Tệp a.mp3 bị hỏng")
        i18n.set_language("en")
        assert str(error).startswith("The file a.mp3 is damaged")
        assert error.detail == "Header missing" and error.code == "corrupt"
    finally:
        i18n.set_language(None)


def test_a_bad_chime_carries_its_cause_in_the_same_language() -> None:
    error = BadChime("chime.wav", TooLong("chime.wav", duration_s=45, limit_s=30))
    try:
        i18n.set_language("vi")
        assert str(error) == ("Không dùng được tệp nhạc hiệu chime.wav: Tệp chime.wav dài "
                              "0:00:45, vượt quá thời lượng cho phép 0:00:30.")
        i18n.set_language("en")
        assert str(error) == ("The chime file chime.wav cannot be used: The file chime.wav "
                              "lasts 0:00:45, longer than the limit of 0:00:30.")
    finally:
        i18n.set_language(None)


def test_errors_survive_pickling() -> None:
    """Imports may run in a worker process; the refusal must come back intact."""
    error = BadChime("c.wav", TooLong("c.wav", duration_s=45, limit_s=30, detail="probe"))
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is BadChime and type(copy.cause) is TooLong
    assert str(copy) == str(error) and copy.detail == "probe" and copy.cause.limit_s == 30


def test_station_faults_are_not_the_file() -> None:
    try:
        i18n.set_language("vi")
        assert str(ToolMissing("ffmpeg")) == "Chưa cài đặt chương trình ffmpeg; hãy cài đặt ffmpeg."
        assert "xem nhật ký" in str(ProcessingFailed("a.mp3", detail="timeout"))
    finally:
        i18n.set_language(None)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00:00"), (59.6, "0:01:00"),
                                               (10800, "3:00:00"), (10860, "3:01:00")])
def test_clock_text(seconds: float, text: str) -> None:
    assert clock_text(seconds) == text


def test_default_targets() -> None:
    settings = ProcessingSettings()
    assert (settings.target_lufs, settings.true_peak_dbtp, settings.bitrate_bps) == \
        (-16.0, -1.5, 24_000)
    assert settings.max_duration_s == 3 * 3600
    assert settings.limiter_ceiling_dbtp == -2.5
    assert not settings.chime and settings.chime_file is None


@pytest.mark.parametrize("bad", [{"target_lufs": 0.0}, {"true_peak_dbtp": 1.0},
                                 {"bitrate_kbps": 2}, {"max_duration_s": 0},
                                 {"loudness_target": -16.0},
                                 {"true_peak_dbtp": -8.5, "codec_headroom_db": 1.0}])
def test_bad_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ProcessingSettings.model_validate(bad)


def test_settings_nest_in_toml_shaped_data(tmp_path: Path) -> None:
    settings = ProcessingSettings.model_validate(
        {"target_lufs": -18, "chime": True, "chime_file": str(tmp_path / "c.wav")})
    assert settings.chime_file == tmp_path / "c.wav" and settings.target_lufs == -18.0
    with pytest.raises(ValidationError):
        settings.target_lufs = -20  # type: ignore[misc]
