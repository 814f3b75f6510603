"""The same audio imported twice is stored once: the output is bit-exact.

(That different audio gives different items is asserted in ``test_formats``.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from controller.library import ContentStore, ImportResult, import_file
from tests.library import media

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ContentStore:
    return ContentStore(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def first(store: ContentStore, inputs: dict[str, Path]) -> ImportResult:
    return import_file(inputs["flac"], store)


def test_same_audio_twice_is_stored_once(store: ContentStore, first: ImportResult,
                                         inputs: dict[str, Path], tmp_path: Path) -> None:
    before = media.snapshot(store.root)
    again = import_file(inputs["flac"], store)
    renamed = tmp_path / "ban-tin-bao-so-3 (1).flac"
    shutil.copyfile(inputs["flac"], renamed)
    copy = import_file(renamed, store)

    assert first.newly_stored and not again.newly_stored and not copy.newly_stored
    assert first.audio.sha256 == again.audio.sha256 == copy.audio.sha256
    assert copy.audio.source_name == renamed.name  # the record keeps the operator's name
    assert list(store) == [first.audio.sha256]
    assert media.snapshot(store.root) == before


def test_a_damaged_stored_copy_is_replaced_by_a_new_import(
        store: ContentStore, first: ImportResult, inputs: dict[str, Path]) -> None:
    sha = first.audio.sha256
    path = store.path_of(sha)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert store.verify_all() == [sha]
    again = import_file(inputs["flac"], store)
    assert again.newly_stored and again.audio.sha256 == sha
    assert store.verify_all() == []
