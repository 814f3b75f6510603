"""Small parts on their own: corrections, the presentation line, the dispatcher, the
ALSA sink's callback, the GPIO relays (against stand-in libraries), the tone."""

from __future__ import annotations

import random
import sys
import threading
import time
import types
from typing import Any

import pytest

from agent.playout.correction import plan_corrections, spread_corrections
from agent.playout.dispatch import Dispatcher
from agent.playout.pcm import NS_PER_FRAME, RATE
from agent.playout.relay import GpiodRelay, GpioZeroRelay, RelayError
from agent.playout.sinks import SinkTiming
from agent.playout.sinks.alsa import SoundDeviceSink
from agent.playout.timing import PresentationLine
from agent.playout.tone import attention_tone
from protocols.clock import ManualClock
from protocols.messages import Evidence, Play, PlayOutcome
from protocols.timefields import Stamp, TimeQuality

# ------------------------------------------------------------------ drift correction


def test_corrections_insert_when_early_drop_when_late_within_budget() -> None:
    assert plan_corrections(0.5, 480, 2000) == (0, 0)  # inside the deadband
    assert plan_corrections(0.8, 480, 2000) == (1, 0)
    assert plan_corrections(-0.8, 480, 2000) == (0, 1)
    assert plan_corrections(-30.0, 480, 2000) == (0, 1)  # capped: one per 10 ms chunk
    assert plan_corrections(-30.0, 4800, 2000) == (0, 9)


def test_spread_corrections_changes_length_by_exactly_k_samples() -> None:
    data = bytes(range(200)) * 24  # 4800 bytes = 2400 frames
    assert len(spread_corrections(data, 2, 0)) == len(data) + 4
    assert len(spread_corrections(data, 0, 3)) == len(data) - 6
    once = spread_corrections(data, 1, 0)  # sample 1199 repeated, in the middle
    assert once == data[:2400] + data[2398:2400] + data[2400:]
    dropped = spread_corrections(data, 0, 1)  # sample 1200 left out
    assert dropped == data[:2400] + data[2402:]


# ------------------------------------------------------------------ presentation line


def test_line_measures_drift_through_jittery_anchors() -> None:
    line = PresentationLine()
    rng = random.Random(3)
    ns_per_frame = NS_PER_FRAME / (1 + 70e-6)  # a card 70 ppm fast
    for k in range(0, 40 * RATE, 480):
        jitter = rng.uniform(-300_000, 300_000)  # +-0.3 ms of DAC-time noise
        line.add(SinkTiming(k, round(1e12 + k * ns_per_frame + jitter), 0))
    assert abs(line.drift_ppm - 70.0) < 3.0
    predicted = line.predict(40 * RATE + 4800)
    assert predicted is not None
    assert abs(predicted - (1e12 + (40 * RATE + 4800) * ns_per_frame)) < 100_000  # 0.1 ms


def test_line_restarts_on_a_new_epoch() -> None:
    line = PresentationLine()
    line.add(SinkTiming(0, 1_000, 0))
    line.add(SinkTiming(100, 10_000_000_000, 1))  # after an underrun: a new line
    assert line.predict(100) == 10_000_000_000


# ------------------------------------------------------------------ dispatcher


def test_a_blocking_callback_does_not_block_the_producer() -> None:
    release = threading.Event()
    seen: list[str] = []

    def slow(play: Play) -> None:
        release.wait(5)
        seen.append(play.slot_id)

    dispatcher = Dispatcher(slow, None)
    record = Play(Stamp(0, 1, 1, TimeQuality.SYNCED), "s", None, 0, None, None,
                  PlayOutcome.MISSED, "", Evidence.PROCESS)
    t0 = time.monotonic()
    for _ in range(100):
        dispatcher.play(record)
    assert time.monotonic() - t0 < 0.5
    release.set()
    dispatcher.close()
    assert len(seen) == 100


def test_a_failing_callback_does_not_stop_delivery() -> None:
    seen: list[str] = []

    def flaky(code: str, detail: str) -> None:
        if code == "bad":
            raise RuntimeError("journal full")
        seen.append(code)

    dispatcher = Dispatcher(None, flaky)
    dispatcher.event("bad")
    dispatcher.event("good")
    dispatcher.close()
    assert seen == ["good"]


# ------------------------------------------------------------------ ALSA sink callback


class _Time:
    def __init__(self, current: float, dac: float) -> None:
        self.currentTime = current
        self.outputBufferDacTime = dac


def test_alsa_callback_stamps_dac_time_on_the_engine_clock() -> None:
    clock = ManualClock()
    sink = SoundDeviceSink(clock)
    sink.write(b"\x01\x00" * 1000)
    out = bytearray(512 * 2)
    sink._callback(out, 512, _Time(50.0, 50.025), None)  # DAC 25 ms after "now"
    assert bytes(out) == b"\x01\x00" * 512
    timing = sink.timing()
    assert timing == SinkTiming(0, clock.monotonic_ns() + 25_000_000, 0)
    assert sink.presented_at(100) == clock.monotonic_ns() + 25_000_000 + round(100 * NS_PER_FRAME)
    # the FIFO runs dry: zeros, an underrun, and a new epoch for what comes next
    sink._callback(out, 512, _Time(50.01, 50.035), None)
    assert bytes(out[976:]) == bytes(len(out) - 976) and sink.underruns() == 1
    sink.write(b"\x02\x00" * 600)
    sink._callback(out, 512, _Time(50.02, 50.045), None)
    later = sink.timing()
    assert later is not None and later.epoch == 1 and later.frame == 1000


def test_alsa_sink_reports_missing_portaudio_as_a_sink_error(monkeypatch: Any) -> None:
    from agent.playout.sinks import SinkError
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails
    with pytest.raises(SinkError, match="unavailable"):
        SoundDeviceSink(ManualClock()).open()


# ------------------------------------------------------------------ GPIO relays


def test_gpiozero_relay_drives_an_output_device(monkeypatch: Any) -> None:
    made: dict[str, Any] = {}

    class OutputDevice:
        def __init__(self, pin: int, *, active_high: bool, initial_value: bool,
                     pin_factory: Any) -> None:
            made.update(pin=pin, active_high=active_high, initial=initial_value)
            self.value = 0
            self.closed = False

        def on(self) -> None:
            self.value = 1

        def off(self) -> None:
            self.value = 0

        def close(self) -> None:
            self.closed = True

    monkeypatch.setitem(sys.modules, "gpiozero", types.SimpleNamespace(OutputDevice=OutputDevice))
    relay = GpioZeroRelay(17, active_high=False)
    assert made == {"pin": 17, "active_high": False, "initial": False} and not relay.is_on
    relay.set(True)
    assert relay.is_on
    relay.close()
    assert not relay.is_on


def test_gpiod_v2_relay_requests_the_line_inactive(monkeypatch: Any) -> None:
    calls: list[tuple[str, Any]] = []

    class Value:
        ACTIVE, INACTIVE = "active", "inactive"

    class Direction:
        OUTPUT = "output"

    class Request:
        def set_value(self, line: int, value: str) -> None:
            calls.append(("set", (line, value)))

        def release(self) -> None:
            calls.append(("release", None))

    def request_lines(chip: str, consumer: str, config: dict[int, Any]) -> Request:
        calls.append(("request", (chip, consumer, config[22])))
        return Request()

    def line_settings(**kw: Any) -> dict[str, Any]:
        return kw

    line_mod = types.SimpleNamespace(Direction=Direction, Value=Value)
    gpiod = types.SimpleNamespace(request_lines=request_lines, LineSettings=line_settings,
                                  line=line_mod)
    monkeypatch.setitem(sys.modules, "gpiod", gpiod)
    monkeypatch.setitem(sys.modules, "gpiod.line", line_mod)
    relay = GpiodRelay("/dev/gpiochip4", 22, active_high=False)
    relay.set(True)
    relay.close()
    assert calls[0] == ("request", ("/dev/gpiochip4", "loaxa-amp",
                                    {"direction": "output", "output_value": "inactive",
                                     "active_low": True}))
    assert calls[1:] == [("set", (22, "active")), ("set", (22, "inactive")), ("release", None)]


def test_relays_without_their_library_raise_relay_error(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "gpiozero", None)
    monkeypatch.setitem(sys.modules, "gpiod", None)
    with pytest.raises(RelayError):
        GpioZeroRelay(17)
    with pytest.raises(RelayError):
        GpiodRelay()


# ------------------------------------------------------------------ tone


def test_attention_tone_is_loud_and_click_free() -> None:
    tone = attention_tone()
    assert len(tone) == round(1.8 * RATE) * 2
    samples = memoryview(tone).cast("h")
    assert samples[0] == 0 and max(samples) > 15000
