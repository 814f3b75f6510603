"""Time that is not trusted yet, a sound card that fails, and the status API."""

from __future__ import annotations

import dataclasses
import time

from agent.playout import EmergencyRequest
from agent.playout.sinks import ClockedFakeSink, SinkError
from protocols.messages import Evidence, PlayOutcome
from protocols.timefields import TimeQuality

from .conftest import Library
from .rig import MS, TEST_CONFIG, Rig, S, slot


def test_plan_slots_wait_for_trusted_time_but_emergencies_do_not(library: Library) -> None:
    with Rig(library.cache) as rig:
        rig.clock.set_quality(TimeQuality.UNSYNCED)  # type: ignore[attr-defined]
        t = rig.wall_in(0.5)
        rig.engine.set_timeline([slot("bulletin", library.long, t, seconds=30.0,
                                      extrapolated=True)])
        time.sleep(1.5)
        assert rig.engine.now_playing() is None and not rig.plays  # not on an untrusted clock
        rig.engine.play_now(EmergencyRequest("fire", library.short.sha, attention_tone=False))
        rig.wait_plays(1, timeout=10)
        assert rig.play_of("emergency:fire:0").outcome == PlayOutcome.AIRED
        rig.clock.set_quality(TimeQuality.ESTIMATED)  # type: ignore[attr-defined]
        time.sleep(1.0)
        rig.engine.stop()
        rig.wait_plays(2, timeout=10)
    bulletin = rig.play_of("bulletin")
    # trusted ~4 s after its start: unshared, within grace -> restarted from the top
    assert bulletin.reason.startswith("started ") and "late (within grace)" in bulletin.reason
    assert bulletin.extrapolated and bulletin.evidence == Evidence.SINK
    assert bulletin.first_sample_ns is not None and bulletin.first_sample_ns - t > 2 * S


class FlakySink(ClockedFakeSink):
    """A card that dies once, on demand (a USB card unplugged mid-bulletin)."""

    fail_next = False

    def write(self, pcm: bytes) -> int:
        if self.fail_next:
            self.fail_next = False
            raise SinkError("device unplugged")
        return super().write(pcm)


def test_a_failing_sink_ends_the_airing_partial_and_the_engine_recovers(
        library: Library) -> None:
    rig = Rig(library.cache, sink_class=FlakySink,
              config=dataclasses.replace(TEST_CONFIG, sink_retry_s=0.3))
    flaky = rig.sink
    assert isinstance(flaky, FlakySink)
    with rig:
        t = rig.wall_in(0.8)
        rig.engine.set_timeline([slot("cut", library.medium, t),
                                 slot("after", library.short, t + 3 * S)])
        time.sleep(1.6)
        flaky.fail_next = True
        rig.wait_plays(2, timeout=15)
    cut, after = rig.play_of("cut"), rig.play_of("after")
    assert cut.outcome == PlayOutcome.PARTIAL and cut.reason == "sink failure: device unplugged"
    assert cut.first_sample_ns is not None and abs(cut.first_sample_ns - t) < MS
    assert cut.evidence == Evidence.SINK  # it was heard until the card died
    assert after.outcome == PlayOutcome.AIRED  # reopened and on time again
    assert after.first_sample_ns is not None and abs(after.first_sample_ns - (t + 3 * S)) < MS
    assert ("sink-failed", "device unplugged") in rig.events


def test_status_api(library: Library) -> None:
    with Rig(library.cache) as rig:
        marker = rig.engine.progress_marker()
        time.sleep(0.2)
        assert rig.engine.progress_marker() > marker  # the watchdog's heartbeat
        rig.engine.volume = 130
        assert rig.engine.volume == 100
        t = rig.wall_in(0.5)
        rig.engine.set_timeline([slot("now", library.medium, t)])
        time.sleep(1.5)
        playing = rig.engine.now_playing()
        assert playing is not None and playing.slot_id == "now" and not playing.emergency
        assert 500 <= playing.position_ms <= 1500
        assert rig.engine.amp_on
