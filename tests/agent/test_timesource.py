"""``[clock] source``: the system clock, or the clock exchange and its saved estimate.

No sockets here: samples are fed straight into the estimate, on a ``ManualClock``.
"""

from __future__ import annotations

from pathlib import Path

from agent.clocksync import Sample
from agent.config import AgentSettings, from_mapping
from agent.state import AgentState
from agent.timesource import DRIFT_SETTING, ExchangeTime, SystemTime, time_source
from protocols.clock import ManualClock
from protocols.messages import ClockSource
from protocols.timefields import TimeQuality

KEY = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
S = 1_000_000_000
OFFSET_NS = 7 * S  # the controller's clock is 7 s ahead of this box's
BOOT_A, BOOT_B = b"A" * 16, b"B" * 16


def settings(data_dir: Path, source: str = "exchange") -> AgentSettings:
    return from_mapping({
        "agent": {"id": "ag-1", "commune": "xa-a", "data_dir": str(data_dir)},
        "broker": {"host": "h", "password": "pw"},
        "data_plane": {"endpoint": "tcp://h:7710", "server_key": KEY,
                       "clock_endpoint": "tcp://h:7711"},
        "clock": {"source": source, "trust": "always"}}, {})


def converge(time: ExchangeTime, box: ManualClock, drift_ppm: float = 40.0) -> None:
    """Exchanges every 10 s for three minutes over a 10 ms symmetric path."""
    for _ in range(18):
        mono1, wall1 = box.monotonic_ns(), box.wall_ns()
        controller = wall1 + OFFSET_NS
        box.advance(10_000_000)
        time.exchange.add_sample(Sample(mono1_ns=mono1, mono4_ns=box.monotonic_ns(),
                                        wall1_ns=wall1, t2_ns=controller + 5_000_000,
                                        t3_ns=controller + 5_000_000), timebase=1)
        box.advance(10 * S)
        box.step_wall(round(10 * S * drift_ppm * -1e-6))  # the box's crystal runs fast


def test_the_system_clock_is_the_default(tmp_path: Path) -> None:
    state = AgentState(tmp_path / "state.db")
    try:
        chosen = time_source(settings(tmp_path, "system"), state, ManualClock(), boot_id=None)
        assert isinstance(chosen, SystemTime)
        assert chosen.report() == (ClockSource.NTP, None, None)  # ManualClock: SYNCED
    finally:
        state.close()


def test_the_estimate_is_reported_and_kept_for_a_restart_in_the_same_boot(
        tmp_path: Path) -> None:
    box = ManualClock()
    state = AgentState(tmp_path / "state.db")
    try:
        first = time_source(settings(tmp_path), state, box, boot_id=BOOT_A)
        assert isinstance(first, ExchangeTime)
        assert first.clock.quality() is TimeQuality.UNSYNCED
        assert first.report() == (ClockSource.EXCHANGE, None, None)  # not converged yet
        converge(first, box)
        assert first.clock.quality() is TimeQuality.ESTIMATED
        source, offset, bound = first.report()
        assert source is ClockSource.EXCHANGE and bound is not None and bound < 20_000
        assert offset is not None and abs(offset - OFFSET_NS // 1000) < 1_000
        first.stop()  # saves
        box.advance(30 * S)
        again = time_source(settings(tmp_path), state, box, boot_id=BOOT_A)
        assert again.clock.quality() is TimeQuality.ESTIMATED  # before any exchange
        assert abs(again.clock.wall_ns() - first.clock.wall_ns()) < 2_000_000
        again.stop()
        # After a reboot the monotonic clock means nothing: only the drift is reused.
        rebooted = time_source(settings(tmp_path), state, box, boot_id=BOOT_B)
        assert rebooted.clock.quality() is TimeQuality.UNSYNCED
        assert state.setting(DRIFT_SETTING) is not None
        rebooted.stop()
    finally:
        state.close()
