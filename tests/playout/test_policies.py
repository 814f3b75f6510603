"""Who airs when: pre-emption, queueing, skipping, late starts, failures — each slot's
fate shows in its play record, and the fake's recording confirms what was heard."""

from __future__ import annotations

import time
from pathlib import Path

from agent.playout import EmergencyRequest, ScheduledSlot
from agent.playout.pcm import RATE
from protocols.messages import Evidence, HardTimePolicy, PlanSlot, PlayOutcome, Priority

from .audio_compare import best_lag, rms
from .conftest import Library
from .media import corrupt_copy
from .rig import MS, Rig, S, slot

TOL = 2 * MS  # play records are stamped from the fake's crystal: tight even under load


def near(actual: int | None, expected: int, tol: int = TOL) -> bool:
    return actual is not None and abs(actual - expected) <= tol


def test_preempted_slot_restarts_after_the_preemptor(library: Library) -> None:
    with Rig(library.cache) as rig:
        t = rig.wall_in(1.5)
        rig.engine.set_timeline([
            slot("low", library.medium, t),
            slot("high", library.short, t + 1 * S, priority=Priority.PRIORITY),
        ])
        rig.wait_plays(2, timeout=15)
    low, high = rig.play_of("low"), rig.play_of("high")
    assert high.outcome == PlayOutcome.AIRED and near(high.first_sample_ns, t + 1 * S)
    assert low.outcome == PlayOutcome.AIRED
    assert low.reason == "restarted after pre-emption by high"
    # the restart follows the pre-emptor's last sample without a gap
    assert near(low.first_sample_ns, high.end_ns or 0, 30 * MS)
    assert low.end_ns is not None and low.first_sample_ns is not None
    assert abs((low.end_ns - low.first_sample_ns) - 4 * S) < 5 * MS  # aired whole


def test_preempted_slot_outside_its_window_is_logged_preempted(library: Library) -> None:
    with Rig(library.cache) as rig:
        t = rig.wall_in(1.5)
        rig.engine.set_timeline([
            slot("low", library.medium, t, window_s=1.5),
            slot("high", library.short, t + 1 * S, priority=Priority.EMERGENCY),
        ])
        rig.wait_plays(2, timeout=15)
    low, high = rig.play_of("low"), rig.play_of("high")
    assert low.outcome == PlayOutcome.PREEMPTED
    assert low.reason == "pre-empted by high; window closed"
    # the second it was heard before the pre-emption is on its record
    assert near(low.first_sample_ns, t) and near(low.end_ns, high.first_sample_ns or 0, 30 * MS)


def test_queue_after_waits_for_the_item_on_air(library: Library) -> None:
    with Rig(library.cache) as rig:
        t = rig.wall_in(1.5)
        rig.engine.set_timeline([
            slot("first", library.medium, t),
            slot("queued", library.short, t + 1 * S, priority=Priority.PRIORITY,
                 policy=HardTimePolicy.QUEUE_AFTER),
        ])
        rig.wait_plays(2, timeout=15)
    first, queued = rig.play_of("first"), rig.play_of("queued")
    assert first.outcome == PlayOutcome.AIRED and first.reason == ""
    assert queued.outcome == PlayOutcome.AIRED and queued.reason == "queued after first"
    assert near(queued.first_sample_ns, t + 4 * S, 30 * MS)


def test_skip_if_busy_is_skipped(library: Library) -> None:
    with Rig(library.cache) as rig:
        t = rig.wall_in(1.5)
        rig.engine.set_timeline([
            slot("first", library.medium, t),
            slot("skippable", library.short, t + 1 * S, priority=Priority.PRIORITY,
                 policy=HardTimePolicy.SKIP_IF_BUSY),
        ])
        rig.wait_plays(2, timeout=15)
    skipped = rig.play_of("skippable")
    assert skipped.outcome == PlayOutcome.SKIPPED and skipped.reason == "busy: first on air"
    assert skipped.first_sample_ns is None and skipped.evidence == Evidence.PROCESS
    assert rig.play_of("first").outcome == PlayOutcome.AIRED


def test_late_shared_slot_joins_at_the_right_offset(library: Library) -> None:
    item = library.long
    with Rig(library.cache, drift_ppm=50.0) as rig:
        start = rig.wall_in(-5.0)  # the neighbours started it 5 s ago
        start_mono = rig.mono_of(start)
        rig.engine.set_timeline([slot("shared", item, start, peers=2)])
        time.sleep(3.0)
        playing = rig.engine.now_playing()
        rig.engine.stop()
        rig.wait_plays(1, timeout=10)
    play = rig.play_of("shared")
    assert playing is not None and playing.slot_id == "shared"
    assert play.outcome == PlayOutcome.PARTIAL
    assert play.reason.startswith("joined at +5.")
    assert play.reason.endswith("(village peers airing); stopped by command")
    offset_s = float(play.reason.split("+")[1].split(" ")[0])
    # the first sample heard is the one the neighbours air at that instant
    assert near(play.first_sample_ns, start + round(offset_s * S), 1 * MS)
    presented, corr = rig.presented(item.decoded(), round((offset_s + 1.0) * RATE),
                                    start_mono + round((offset_s + 1.0) * S))
    assert corr > 0.8 and abs(presented - (start_mono + round((offset_s + 1.0) * S))) < MS


def test_late_unshared_slot_restarts_within_grace(library: Library) -> None:
    with Rig(library.cache) as rig:
        start = rig.wall_in(-3.0)
        rig.engine.set_timeline([slot("late", library.long, start, seconds=30.0)])
        time.sleep(1.0)
        rig.engine.stop()
        rig.wait_plays(1, timeout=10)
    play = rig.play_of("late")
    assert play.outcome == PlayOutcome.PARTIAL
    assert play.reason.startswith("started 3.") and play.reason.endswith("; stopped by command")
    assert play.first_sample_ns is not None
    # restarted from its first sample about now, not joined at +3 s
    assert 2.9 * S < play.first_sample_ns - start < 3.6 * S


def test_restart_outcome_names_the_lateness(library: Library) -> None:
    with Rig(library.cache) as rig:
        start = rig.wall_in(-1.0)  # no restart window: the grace alone decides
        rig.engine.set_timeline([slot("late", library.short, start, seconds=10.0,
                                      window_s=0.0)])
        rig.wait_plays(1, timeout=10)
    play = rig.play_of("late")
    assert play.outcome == PlayOutcome.AIRED and play.reason.startswith("started 1.")
    assert play.reason.endswith("s late (within grace)")


def test_too_late_unshared_slot_is_missed(library: Library) -> None:
    with Rig(library.cache) as rig:
        start = rig.wall_in(-40.0)
        rig.engine.set_timeline([slot("gone", library.long, start, seconds=60.0),
                                 slot("next", library.short, rig.wall_in(1.0))])
        rig.wait_plays(2, timeout=10)
    gone = rig.play_of("gone")
    assert gone.outcome == PlayOutcome.MISSED and "beyond the 30 s grace" in gone.reason
    assert gone.first_sample_ns is None and gone.end_ns is None
    assert rig.play_of("next").outcome == PlayOutcome.AIRED  # positive control


def test_missing_or_corrupt_content_fails_and_the_engine_goes_on(library: Library,
                                                                tmp_path: Path) -> None:
    bad = corrupt_copy(tmp_path, library.other)
    with Rig(library.cache) as rig:
        t = rig.wall_in(1.0)
        absent = ScheduledSlot(PlanSlot(
            slot_id="absent", programme="p", start_ns=t, content=b"\x01" * 32,
            duration_ms=2000, priority=Priority.NORMAL, policy=HardTimePolicy.PREEMPT,
            window_end_ns=t))
        # bit-rot: the cached file under the planned sha no longer matches it
        saved = library.other.path.read_bytes()
        library.other.path.write_bytes(bad.path.read_bytes())
        try:
            rig.engine.set_timeline([absent, slot("corrupt", library.other, t + 1 * S),
                                     slot("good", library.short, t + 2 * S)])
            rig.wait_plays(3, timeout=15)
        finally:
            library.other.path.write_bytes(saved)
        alive = rig.engine.progress_marker()
        time.sleep(0.1)
        assert rig.engine.progress_marker() > alive
    absent_play, corrupt, good = (rig.play_of(k) for k in ("absent", "corrupt", "good"))
    assert absent_play.outcome == PlayOutcome.FAILED
    assert absent_play.reason == "content not cached"
    assert corrupt.outcome == PlayOutcome.FAILED and "sha256" in corrupt.reason
    assert good.outcome == PlayOutcome.AIRED and near(good.first_sample_ns, t + 2 * S)


def test_emergency_preempts_with_tone_and_volume_then_the_bulletin_restarts(
        library: Library) -> None:
    item = library.short
    with Rig(library.cache) as rig:
        t = rig.wall_in(1.0)
        rig.engine.set_timeline([slot("bulletin", library.medium, t)])
        time.sleep(2.0)
        accepted = rig.clock.monotonic_ns()
        rig.engine.play_now(EmergencyRequest("storm", item.sha, volume=50, attention_tone=True))
        rig.wait_plays(2, timeout=20)
    emergency = rig.play_of("emergency:storm:0")
    bulletin = rig.play_of("bulletin")
    assert emergency.outcome == PlayOutcome.AIRED
    assert bulletin.outcome == PlayOutcome.AIRED
    assert bulletin.reason == "restarted after pre-emption by emergency:storm:0"
    # heard within a device period or two of acceptance (amplifier already on)
    first_mono = rig.mono_of(emergency.first_sample_ns or 0)
    assert 0 < first_mono - accepted < 150 * MS
    # tone first (1.8 s), then the item at half amplitude
    reference = item.decoded()
    start_dev = round(rig.sink.device_frame_at(first_mono)) + round(1.8 * RATE)
    heard = rig.sink.recording(start_dev - 100, RATE + 200)
    lag, corr = best_lag(heard, reference[:RATE * 2])
    assert abs(lag - 100) <= 2 and corr > 0.99, (lag, corr)
    gain = rms(heard[lag * 2:(lag + RATE) * 2]) / rms(reference[:RATE * 2])
    assert 0.45 < gain < 0.55, gain


def test_emergency_repeats_until_stopped(library: Library) -> None:
    with Rig(library.cache) as rig:
        rig.engine.play_now(EmergencyRequest("flood", library.short.sha, repeat_every_s=3,
                                             attention_tone=False))
        rig.wait_plays(2, timeout=15)
        rig.engine.stop_emergency("flood")
        time.sleep(3.5)
        count = len(rig.plays)
    first, second = rig.play_of("emergency:flood:0"), rig.play_of("emergency:flood:1")
    assert first.outcome == second.outcome == PlayOutcome.AIRED
    assert first.first_sample_ns is not None
    assert near(second.first_sample_ns, first.first_sample_ns + 3 * S, 5 * MS)
    assert count in (2, 3)  # at most the airing in progress when stopped, then nothing
    if count == 3:
        assert rig.plays[2].outcome == PlayOutcome.PARTIAL


def test_amplifier_lead_and_tail(library: Library) -> None:
    with Rig(library.cache) as rig:
        time.sleep(0.2)
        assert not rig.relay.is_on and not rig.engine.amp_on  # off at boot
        t = rig.wall_in(1.5)
        rig.engine.set_timeline([slot("one", library.short, t)])
        rig.wait_plays(1, timeout=10)
        time.sleep(1.0)
    play = rig.play_of("one")
    (on_mono, _, on), (off_mono, _, off) = rig.relay.switches[:2]
    assert on and not off
    lead = rig.mono_of(t) - on_mono
    assert 450 * MS <= lead <= 520 * MS, lead / MS  # 500 ms lead, one tick of slack
    tail = off_mono - rig.mono_of(play.end_ns or 0)
    assert 390 * MS <= tail <= 450 * MS, tail / MS  # 400 ms tail


def test_plan_update_replaces_the_future_not_the_air(library: Library) -> None:
    with Rig(library.cache) as rig:
        t = rig.wall_in(1.0)
        rig.engine.set_timeline([slot("on-air", library.medium, t),
                                 slot("dropped", library.short, t + 6 * S)])
        time.sleep(2.0)
        rig.engine.set_timeline([slot("added", library.short, t + 5 * S)])
        rig.wait_plays(2, timeout=15)
        time.sleep(2.0)
    assert [p.slot_id for p in rig.plays] == ["on-air", "added"]
    assert rig.play_of("on-air").outcome == PlayOutcome.AIRED
