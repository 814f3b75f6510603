"""The agent's cache: atomic writes, the integrity check, quota and eviction, telemetry."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from agent.cache import Cache, IntegrityError
from protocols.clock import ManualClock
from protocols.messages import CacheState

MB = 1_000_000


def item(seed: int, size: int = MB) -> tuple[bytes, bytes]:
    data = hashlib.shake_256(seed.to_bytes(4, "big")).digest(size)
    return hashlib.sha256(data).digest(), data


def flip_byte(path: Path, at: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(at)
        old = handle.read(1)
        handle.seek(at)
        handle.write(bytes([old[0] ^ 0x01]))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_put_stores_under_the_hash_and_reports_state(tmp_path: Path, clock: ManualClock) -> None:
    cache = Cache(tmp_path, 10 * MB, clock=clock)
    sha, data = item(1)
    path = cache.put(sha, data)
    assert path.name == sha.hex() and path.read_bytes() == data
    assert cache.has(sha) and cache.size_of(sha) == MB
    other, _ = item(2)
    cache.set_needed({sha, other})
    assert cache.state() == CacheState(items=1, bytes=MB, quota_bytes=10 * MB, missing=1)


def test_put_refuses_bytes_that_do_not_match_the_name(tmp_path: Path) -> None:
    cache = Cache(tmp_path, 10 * MB)
    sha, data = item(1)
    with pytest.raises(IntegrityError):
        cache.put(sha, data + b"!")
    assert not cache.has(sha) and not any((tmp_path / "items").iterdir())


def test_a_flipped_byte_is_found_at_start_and_the_file_removed(tmp_path: Path) -> None:
    cache = Cache(tmp_path, 10 * MB)
    (bad, bad_data), (good, good_data) = item(1), item(2)
    cache.put(bad, bad_data)
    cache.put(good, good_data)
    flip_byte(tmp_path / "items" / bad.hex(), MB // 2)
    reopened = Cache(tmp_path, 10 * MB)
    assert not reopened.has(bad) and not (tmp_path / "items" / bad.hex()).exists()
    assert reopened.corrupt_removed == 1
    assert reopened.has(good)  # positive control: the intact item stays
    assert reopened.path(good) is not None
    reopened.set_needed({bad, good})
    assert reopened.state().missing == 1  # telemetry says it must be fetched again


def test_a_flipped_byte_is_found_when_read_for_playout(tmp_path: Path) -> None:
    cache = Cache(tmp_path, 10 * MB)
    sha, data = item(1)
    cache.put(sha, data)
    lost: list[bytes] = []
    cache.subscribe(lost.append)
    assert cache.path(sha, verify=True) is not None  # intact: fine
    flip_byte(tmp_path / "items" / sha.hex(), 0)
    assert cache.path(sha, verify=True) is None
    assert lost == [sha] and not cache.has(sha)


def test_stray_files_from_a_crash_are_cleaned_at_start(tmp_path: Path) -> None:
    Cache(tmp_path, 10 * MB)
    sha, data = item(1)
    (tmp_path / "tmp" / f"{sha.hex()}.1234.tmp").write_bytes(data[:1000])  # died mid-write
    (tmp_path / "items" / "not-an-item").write_bytes(b"x")
    (tmp_path / "partial" / "junk").write_bytes(b"x")
    (tmp_path / "partial" / f"{sha.hex()}.part").write_bytes(data[:5000])  # a resumable fetch
    cache = Cache(tmp_path, 10 * MB)
    assert not any((tmp_path / "tmp").iterdir())
    assert not (tmp_path / "items" / "not-an-item").exists()
    assert not (tmp_path / "partial" / "junk").exists()
    assert cache.partial_size(sha) == 5000  # kept, so the fetch resumes
    assert not cache.has(sha)


def test_an_interrupted_write_leaves_nothing_under_the_final_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache(tmp_path, 10 * MB)
    sha, data = item(1)

    def power_cut(*_args: object) -> None:
        raise OSError("power cut before the rename")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError):
        cache.put(sha, data)
    monkeypatch.undo()
    assert not (tmp_path / "items" / sha.hex()).exists() and not cache.has(sha)
    assert not any((tmp_path / "tmp").iterdir())
    cache.put(sha, data)  # positive control: the same write goes through
    assert (tmp_path / "items" / sha.hex()).read_bytes() == data


def test_a_partial_is_committed_only_with_the_right_digest(tmp_path: Path) -> None:
    cache = Cache(tmp_path, 10 * MB)
    sha, data = item(1)
    cache.partial_path(sha).write_bytes(data[:-1] + b"?")
    with pytest.raises(IntegrityError):
        cache.commit_partial(sha, hashlib.sha256(data[:-1] + b"?").digest())
    assert not cache.has(sha) and not (tmp_path / "items" / sha.hex()).exists()
    assert cache.partial_size(sha) == 0  # a wrong partial is not resumed
    cache.partial_path(sha).write_bytes(data)
    path = cache.commit_partial(sha, hashlib.sha256(data).digest())
    assert path.read_bytes() == data and cache.partial_size(sha) == 0


def test_eviction_is_lru_among_items_no_document_needs(tmp_path: Path,
                                                       clock: ManualClock) -> None:
    cache = Cache(tmp_path, 3 * MB, clock=clock)
    a, b, c, d = (item(i) for i in range(4))
    for sha, data in (a, b, c):
        cache.put(sha, data)
        clock.advance(10**9)
    cache.set_needed({a[0]})  # a is the oldest, but needed
    cache.path(b[0])  # b was used after c
    clock.advance(10**9)
    cache.put(*d)
    assert cache.has(a[0]) and cache.has(b[0]) and cache.has(d[0])
    assert not cache.has(c[0])  # the least recently used unneeded item went
    assert cache.state().bytes <= 3 * MB and cache.evicted == 1


def test_needed_items_are_never_evicted_even_above_quota(tmp_path: Path,
                                                         clock: ManualClock) -> None:
    cache = Cache(tmp_path, 2 * MB, clock=clock, min_free_bytes=0)
    items = [item(i) for i in range(3)]
    cache.set_needed({sha for sha, _ in items})
    for sha, data in items:
        assert cache.make_room(sha, len(data))
        cache.put(sha, data)
        clock.advance(10**9)
    assert all(cache.has(sha) for sha, _ in items)
    state = cache.state()
    assert state.bytes == 3 * MB > state.quota_bytes and state.missing == 0
    cache.set_needed({items[2][0]})  # the plan moved on: now the others may go
    assert [cache.has(sha) for sha, _ in items] == [False, True, True]  # oldest went
    assert cache.state().bytes <= 2 * MB


def test_make_room_refuses_when_only_needed_items_could_go(tmp_path: Path) -> None:
    cache = Cache(tmp_path, 2 * MB, min_free_bytes=2**62)  # "the disk is full"
    a, b, c = item(1), item(2), item(3)
    cache.put(*a)
    cache.put(*b)
    cache.set_needed({a[0], b[0], c[0]})
    assert not cache.make_room(c[0], MB)
    assert cache.has(a[0]) and cache.has(b[0])
    cache.set_needed({a[0], c[0]})  # positive control: b is no longer needed
    assert cache.make_room(c[0], MB) and not cache.has(b[0]) and cache.has(a[0])


def test_unneeded_partials_go_before_items(tmp_path: Path) -> None:
    cache = Cache(tmp_path, 2 * MB)
    a, b = item(1), item(2)
    cache.put(*a)
    cache.partial_path(b[0]).write_bytes(b[1][: MB // 2])  # half of something dropped
    c = item(3)
    cache.set_needed({c[0]})
    assert cache.make_room(c[0], MB)
    assert cache.partial_size(b[0]) == 0 and cache.has(a[0])


def test_lru_order_survives_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    cache = Cache(tmp_path, 3 * MB, clock=clock)
    a, b, c = item(1), item(2), item(3)
    for sha, data in (a, b, c):
        cache.put(sha, data)
        clock.advance(10**9)
    cache.path(a[0])  # a used last
    clock.advance(10**9)
    reopened = Cache(tmp_path, 3 * MB, clock=clock)
    reopened.put(*item(4))
    assert reopened.has(a[0]) and not reopened.has(b[0]) and reopened.has(c[0])
