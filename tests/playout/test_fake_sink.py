"""The clocked fake sink models a device, not the writer: its stamps are the audio truth."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import pytest

from agent.playout.pcm import NS_PER_SECOND, RATE
from agent.playout.sinks import ClockedFakeSink, NullSink, SinkTiming
from protocols.clock import ManualClock

MS = 1_000_000


def tone(frames: int, value: int = 1000) -> bytes:
    return value.to_bytes(2, "little", signed=True) * frames


def test_presentation_follows_the_drifting_crystal() -> None:
    clock = ManualClock()
    sink = ClockedFakeSink(clock, drift_ppm=100.0, start_delay_ns=50 * MS)
    sink.open()
    t0 = clock.monotonic_ns() + 50 * MS
    assert sink.write(tone(RATE // 2)) == RATE // 2
    clock.advance(400 * MS)
    # 100 ppm fast: device frame d is presented at t0 + d / 48004.8 Hz
    assert sink.presented_at(9600) == t0 + round(9600 * NS_PER_SECOND / (RATE * 1.0001))
    assert sink.presented_at(9600) == sink.device_time_ns(9600)
    assert sink.presented_at(RATE // 2 - 1) is None  # not pulled yet
    timing = sink.timing()
    assert isinstance(timing, SinkTiming) and timing.epoch == 0


def test_a_late_write_underruns_like_a_real_card() -> None:
    clock = ManualClock()
    sink = ClockedFakeSink(clock, start_delay_ns=0, period_frames=480, latency_frames=960)
    sink.open()
    sink.write(tone(960))
    clock.advance(100 * MS)  # the device ran dry after 20 ms and played silence
    sink.write(tone(960, 2000))
    clock.advance(100 * MS)
    assert sink.underruns() > 0
    runs = sink.runs()
    assert len(runs) == 2 and runs[1][0] == 960 and runs[1][1] > 960
    timing = sink.timing()
    assert timing is not None and timing.epoch == 1
    # the written frame 960 is heard after the gap, not at 20 ms
    t = sink.presented_at(960)
    assert t is not None and t - sink.device_time_ns(0) > 100 * MS


def test_arrival_time_not_processing_time_decides() -> None:
    """Consumption is computed lazily, but a frame that arrived in time is not an underrun
    just because nobody touched the sink for a while."""
    clock = ManualClock()
    sink = ClockedFakeSink(clock, start_delay_ns=0)
    sink.open()
    sink.write(tone(RATE // 2))
    clock.advance(400 * MS)
    assert sink.underruns() == 0 and len(sink.runs()) == 1


def test_retract_takes_back_only_unpulled_frames() -> None:
    clock = ManualClock()
    sink = ClockedFakeSink(clock, start_delay_ns=0)
    sink.open()
    sink.write(tone(4800))
    clock.advance(30 * MS)
    taken = sink.retract(10_000)
    assert 0 < taken < 4800 and sink.frames_written() == 4800 - taken
    assert sink.write(tone(100, 3000)) == 100


def test_recording_export_and_windows(tmp_path: Path) -> None:
    clock = ManualClock()
    sink = ClockedFakeSink(clock, start_delay_ns=0,
                           record_windows=[(clock.monotonic_ns() + 50 * MS,
                                            clock.monotonic_ns() + 60 * MS)])
    sink.open()
    sink.write(bytes(960 * 2) + tone(RATE // 10))
    clock.advance(200 * MS)
    rec = sink.recording(0, RATE // 10)
    assert rec[:960 * 2] == bytes(960 * 2)
    assert rec[2400 * 2:2400 * 2 + 4] == tone(2)  # inside the window
    assert rec[4000 * 2:4000 * 2 + 4] == bytes(4)  # outside it: not kept
    assert sink.first_sound_after(0) == 2400  # the window starts at its first period
    path = tmp_path / "rec.wav"
    sink.export_wav(path)
    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnframes() > 0


def test_null_sink_keeps_time_without_evidence() -> None:
    sink = NullSink()
    sink.open()
    sink.write(bytes(4800))
    time.sleep(0.1)
    assert sink.timing() is not None and sink.real is False


def test_write_before_open_is_an_error() -> None:
    from agent.playout.sinks import SinkError
    with pytest.raises(SinkError):
        ClockedFakeSink(ManualClock()).write(b"\0\0")
