"""The content-addressed store, on its own (no ffmpeg)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from controller import i18n
from controller.library import ContentNotFound, ContentStore, InvalidContentId
from protocols.clock import ManualClock


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_names_the_file_by_its_sha256(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    stored = store.put_bytes(b"OggS one")
    assert stored.sha256 == sha(b"OggS one") and stored.created
    assert stored.path == tmp_path / stored.sha256[:2] / f"{stored.sha256}.opus"
    assert stored.path.read_bytes() == b"OggS one"
    assert stored.size_bytes == 8 == store.size_of(stored.sha256)
    assert stored.sha256 in store and sha(b"other") not in store and "junk" not in store
    with store.open(stored.sha256) as handle:
        assert handle.read() == b"OggS one"


def test_identical_content_is_kept_once(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    first = store.put_bytes(b"same")
    second = store.put_bytes(b"same")
    third = store.put_bytes(b"different")
    assert first.created and not second.created and third.created
    assert sorted(store) == sorted([sha(b"same"), sha(b"different")])
    assert list(store.staging_dir.iterdir()) == []


def test_verify_detects_a_flipped_byte(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    good = store.put_bytes(b"a" * 1000).sha256
    bad = store.put_bytes(b"b" * 1000).sha256
    assert store.verify(bad) and store.verify_all() == []
    path = store.path_of(bad)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[500] ^= 0x20
    path.write_bytes(bytes(data))
    assert not store.verify(bad) and store.verify(good)
    assert store.verify_all() == [bad]


def test_delete(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    kept = store.put_bytes(b"kept").sha256
    gone = store.put_bytes(b"gone").sha256
    assert store.delete(gone) is True
    assert store.delete(gone) is False
    assert list(store) == [kept]
    assert not (tmp_path / gone[:2]).exists() or gone[:2] == kept[:2]
    with pytest.raises(ContentNotFound):
        store.open(gone)
    with pytest.raises(ContentNotFound):
        store.verify(gone)


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "A" * 64, "0" * 63, "g" * 64,
                                 "0" * 64 + "/x"])
def test_content_ids_are_checked(tmp_path: Path, bad: str) -> None:
    store = ContentStore(tmp_path)
    with pytest.raises(InvalidContentId) as caught:
        store.path_of(bad)
    assert "không phải là mã nội dung hợp lệ" in str(caught.value)
    assert bad not in store


def test_a_failed_writer_leaves_nothing(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    with pytest.raises(RuntimeError), store.staging() as staged:
        staged.write_bytes(b"half an item")
        raise RuntimeError("encoder crashed")
    assert sorted(p.name for p in tmp_path.rglob("*")) == [".staging"]


def test_sweep_removes_only_old_staging_leftovers(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    old, young = store.staging_dir / "old.tmp", store.staging_dir / "young.tmp"
    old.write_bytes(b"x")
    young.write_bytes(b"y")
    now = 2_000_000_000
    os.utime(old, (now - 3 * 86400, now - 3 * 86400))
    os.utime(young, (now - 60, now - 60))
    clock = ManualClock(wall_ns=now * 10**9)
    assert store.sweep_staging(older_than_s=86400, clock=clock) == 1
    assert [p.name for p in store.staging_dir.iterdir()] == ["young.tmp"]


def test_store_errors_are_translated(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    missing = sha(b"nothing")
    with pytest.raises(ContentNotFound) as caught:
        store.size_of(missing)
    try:
        i18n.set_language("vi")
        assert str(caught.value) == f"Âm thanh {missing} không có trong kho của thư viện."
        i18n.set_language("en")
        assert str(caught.value) == f"The audio {missing} is not in the library store."
    finally:
        i18n.set_language(None)
