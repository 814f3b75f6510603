"""Real bulletins for the library tests (espeak-ng speech, encoded by ffmpeg), made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.library import media


@pytest.fixture(scope="session")
def material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("libraryops-material")


@pytest.fixture(scope="session")
def master(material: Path) -> Path:
    speech = media.speak(media.BULLETIN_VI, material / "espeak.wav")
    return media.padded_master(speech, material / "master.wav")


@pytest.fixture(scope="session")
def bulletins(material: Path, master: Path) -> dict[str, Path]:
    """The same bulletin as a phone (m4a) and a recorder (mp3) would send it."""
    folder = material / "bulletins"
    folder.mkdir()
    return {fmt: media.encode(master, fmt, folder) for fmt in ("mp3", "m4a")}


@pytest.fixture(scope="session")
def other_bulletin(material: Path) -> Path:
    """Different audio (a second, shorter bulletin)."""
    speech = media.speak("Thông báo lịch tiêm phòng cho trẻ em.", material / "tiem.wav")
    master = media.padded_master(speech, material / "tiem-master.wav")
    folder = material / "other"
    folder.mkdir()
    return media.encode(master, "mp3", folder, stem="tiem-phong")


@pytest.fixture(scope="session")
def long_bulletin(material: Path, master: Path) -> Path:
    """The bulletin five times over (about 40 s): several seconds at a low egress cap."""
    out = material / "ban-tin-dai.mp3"
    media.ffmpeg("-stream_loop", "4", "-i", master, "-c:a", "libmp3lame", "-b:a", "64k", out)
    return out
