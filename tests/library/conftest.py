"""Test material for the library, generated once per session with real encoders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import i18n
from tests.library import media


@pytest.fixture(scope="session")
def material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("library-material")


@pytest.fixture(scope="session")
def master(material: Path) -> Path:
    """The Vietnamese bulletin, padded with silence, as a float WAV."""
    speech = media.speak(media.BULLETIN_VI, material / "espeak.wav")
    return media.padded_master(speech, material / "master.wav")


@pytest.fixture(scope="session")
def inputs(material: Path, master: Path) -> dict[str, Path]:
    """The bulletin in every format operators receive."""
    folder = material / "inputs"
    folder.mkdir()
    return {fmt: media.encode(master, fmt, folder) for fmt in media.FORMATS}


@pytest.fixture(autouse=True)
def _vietnamese_by_default() -> Iterator[None]:
    """Messages are asserted in Vietnamese (the default); tests switch to English inline."""
    i18n.set_language("vi")
    try:
        yield
    finally:
        i18n.set_language(None)
