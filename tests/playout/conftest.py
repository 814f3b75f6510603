from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from .media import Item, chirp_item, noise_item, speech_item


@dataclass(frozen=True)
class Library:
    cache: Path
    short: Item  # 2 s of noise
    other: Item  # 2 s of different noise
    medium: Item  # 4 s
    long: Item  # 26 s, for drift
    chirp: Item
    speech: Item


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (deploy/dev/quickstart.sh setup installs it)")
    cache = tmp_path_factory.mktemp("cache")
    return Library(cache=cache, short=noise_item(cache, 2.0, seed=1),
                   other=noise_item(cache, 2.0, seed=2), medium=noise_item(cache, 4.0, seed=3),
                   long=noise_item(cache, 26.0, seed=4), chirp=chirp_item(cache, 3.0),
                   speech=speech_item(cache))
