"""Items an emergency may air are kept ready: their start decoded in memory, so an
emergency is heard without waiting for the disk or a decoder, and the rest of the item
follows seamlessly. A disk the test holds back shows what the first samples came from."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from agent.playout import EmergencyRequest
from agent.playout.pcm import RATE
from protocols.messages import PlayOutcome

from .conftest import Library
from .rig import MS, TEST_CONFIG, Rig, S

# A 3 s kept start, and no amplifier lead (the amplifier is "already on").
READY = replace(TEST_CONFIG, warm_ms=3000, emergency_waits_for_amp=False)
HOLD_S = 1.5  # how long the disk keeps the emergency's decoder waiting


class HeldDisk:
    """``content_path`` that answers at once until ``hold`` is set, then only once
    ``release`` is: a disk (or a CPU) too busy to serve the airing in time."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.hold = threading.Event()
        self.release = threading.Event()
        self.calls: list[bytes] = []

    def __call__(self, sha: bytes) -> Path:
        self.calls.append(sha)
        if self.hold.is_set():
            self.release.wait(30)
        return self.cache / sha.hex()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def air_with_held_disk(library: Library, *, kept: bool) -> tuple[Rig, int, int]:
    """An emergency started while the disk is held for ``HOLD_S``: returns the rig, when
    it was started and when the disk answered (monotonic)."""
    item = library.medium
    disk = HeldDisk(library.cache)
    with Rig(library.cache, config=READY, content_path=disk) as rig:
        if kept:
            rig.engine.keep_ready([item.sha])
            wait_for(lambda: item.sha in rig.engine.kept_ready())
        disk.hold.set()
        started = rig.clock.monotonic_ns()
        rig.engine.play_now(EmergencyRequest("storm", item.sha, attention_tone=False))
        time.sleep(HOLD_S)
        answered = rig.clock.monotonic_ns()
        disk.release.set()
        rig.wait_plays(1, timeout=20)
    return rig, started, answered


def test_an_emergency_kept_ready_is_heard_before_the_disk_answers(library: Library) -> None:
    rig, started, answered = air_with_held_disk(library, kept=True)
    play = rig.play_of("emergency:storm:0")
    assert play.outcome is PlayOutcome.AIRED, play
    first = rig.mono_of(play.first_sample_ns or 0)
    assert started < first < answered, ((first - started) / MS, (answered - started) / MS)
    # The whole item, each stretch exactly when due: across the end of the kept start
    # (3 s) the decoder's continuation joins without a gap or a repeat.
    reference = library.medium.decoded()
    for at_s in (0.5, 2.0, 2.95, 3.5):
        due = first + round(at_s * S)
        presented, corr = rig.presented(reference, round(at_s * RATE), due)
        assert corr > 0.99 and abs(presented - due) < MS, (at_s, corr, (presented - due) / MS)


def test_a_cold_emergency_waits_for_its_decoder(library: Library) -> None:
    """The control: not kept ready, the same emergency is heard only after the disk
    answered (so the test above can tell the two apart)."""
    rig, _started, answered = air_with_held_disk(library, kept=False)
    play = rig.play_of("emergency:storm:0")
    assert play.outcome is PlayOutcome.AIRED, play
    assert rig.mono_of(play.first_sample_ns or 0) > answered


def test_an_item_shorter_than_its_kept_start_airs_from_memory_alone(library: Library) -> None:
    item = library.short  # 2 s: the 3 s kept start holds all of it
    disk = HeldDisk(library.cache)
    with Rig(library.cache, config=READY, content_path=disk) as rig:
        rig.engine.keep_ready([item.sha])
        wait_for(lambda: item.sha in rig.engine.kept_ready())
        rig.engine.play_now(EmergencyRequest("fire", item.sha, attention_tone=False))
        rig.wait_plays(1, timeout=20)
    play = rig.play_of("emergency:fire:0")
    assert play.outcome is PlayOutcome.AIRED, play
    assert disk.calls == [item.sha]  # read once, to be kept: the airing opened no decoder
    assert play.first_sample_ns is not None and play.end_ns is not None
    assert abs(play.end_ns - play.first_sample_ns - 2 * S) < 0.1 * MS  # all of it, no more
    first = rig.mono_of(play.first_sample_ns)
    presented, corr = rig.presented(item.decoded(), RATE, first + S)
    assert corr > 0.99 and abs(presented - (first + S)) < MS


def test_what_is_kept_ready_follows_the_latest_wish_within_its_bound(library: Library) -> None:
    config = replace(READY, warm_ms=200, warm_items=2)
    absent = b"\x07" * 32  # not cached: never kept, and no harm done
    a, b, c = library.short.sha, library.other.sha, library.medium.sha
    with Rig(library.cache, config=config) as rig:
        rig.engine.keep_ready([absent, a, b, c])  # the bound: the first two only
        wait_for(lambda: rig.engine.kept_ready() == {a})
        rig.engine.keep_ready([c, a])
        wait_for(lambda: rig.engine.kept_ready() == {c, a})
        rig.engine.keep_ready([])
        wait_for(lambda: rig.engine.kept_ready() == frozenset())
        alive = rig.engine.progress_marker()
        wait_for(lambda: rig.engine.progress_marker() > alive)
