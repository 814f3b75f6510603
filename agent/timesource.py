"""Where the agent's time comes from: ``[clock] source``.

* ``system`` (the default): the kernel clock, which chrony disciplines in production;
  its quality is the kernel's NTP state (``[clock] trust``).
* ``exchange``: the controller's clock, estimated over the data plane
  (``agent.clocksync``), for boxes whose chrony cannot reach an NTP server. The agent's
  ``Clock`` is then the ``ExchangeClock``: journal stamps, command expiry and playout all
  read the estimate, and airing waits until it has converged (DESIGN principle 3).

Either way the service reports the source, and with the exchange the offset of the box's
own clock from the controller's and the error bound, in heartbeats and telemetry.

A restart must not mean silence while the link is down (principle 1): the estimate is
saved in the agent's state every few minutes and at stop, and restored at start when the
kernel boot is the same (monotonic readings mean nothing across boots). After a reboot
only the oscillator's drift is reused, which shortens the next convergence.
"""

from __future__ import annotations

import logging
import struct
from typing import Protocol

import msgspec

from protocols.clock import Clock, SystemClock
from protocols.messages import ClockSource
from protocols.timefields import TimeQuality

from .config import AgentSettings, check_z85_key
from .state import AgentState

log = logging.getLogger("loaxa.agent.clock")

HOLDOVER_SETTING = "clock-holdover"  # kernel boot id (16 bytes) + msgpack ``Holdover``
DRIFT_SETTING = "clock-drift-ppm"  # float64, big-endian


class TimeSource(Protocol):
    clock: Clock

    def start(self) -> None: ...

    def save(self) -> None: ...

    def stop(self) -> None: ...

    def report(self) -> tuple[ClockSource, int | None, int | None]:
        """(source, offset µs, uncertainty µs) for heartbeats and telemetry."""
        ...


class SystemTime:
    """The kernel clock (or a test's clock) as it is."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def start(self) -> None:
        pass

    def save(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def report(self) -> tuple[ClockSource, int | None, int | None]:
        source = {TimeQuality.SYNCED: ClockSource.NTP,
                  TimeQuality.ESTIMATED: ClockSource.EXCHANGE}.get(self.clock.quality(),
                                                                   ClockSource.SYSTEM)
        return source, _optional_int(self.clock, "offset_us"), \
            _optional_int(self.clock, "uncertainty_us")


class ExchangeTime:
    """The clock-exchange estimate, its client thread, and its persistence."""

    def __init__(self, settings: AgentSettings, state: AgentState, base: Clock, *,
                 boot_id: bytes | None) -> None:
        from .clocksync import ClockSyncClient, ExchangeClock, PollConfig
        from .enroll import KEY_FILE
        from .identity import load_or_create_identity

        plane, config = settings.data_plane, settings.clock
        assert plane.clock_endpoint is not None and plane.server_key is not None  # config
        self._state = state
        self._boot_id = boot_id
        self.exchange = ExchangeClock(base, initial_drift_ppm=self._stored_drift() or 0.0)
        self.clock: Clock = self.exchange
        self._restore()
        self.client = ClockSyncClient(
            plane.clock_endpoint, check_z85_key("data_plane.server_key", plane.server_key),
            load_or_create_identity(settings.data_dir / KEY_FILE), self.exchange,
            poll=PollConfig(burst_interval_s=config.burst_s, interval_s=config.poll_min_s,
                            max_interval_s=config.poll_max_s))

    def start(self) -> None:
        self.client.start()
        log.info("time from the controller's clock exchange at %s", self.client.endpoint)

    def stop(self) -> None:
        self.client.stop()
        self.save()

    def report(self) -> tuple[ClockSource, int | None, int | None]:
        return ClockSource.EXCHANGE, self.exchange.offset_us(), self.exchange.uncertainty_us()

    def save(self) -> None:
        """Keep the estimate for a restart (called every few minutes and at stop)."""
        drift = self.exchange.drift_ppm()
        if drift is not None:
            self._state.set_setting(DRIFT_SETTING, struct.pack(">d", drift))
        holdover = self.exchange.holdover()
        if holdover is not None and self._boot_id is not None:
            self._state.set_setting(HOLDOVER_SETTING,
                                    self._boot_id + msgspec.msgpack.encode(holdover))

    def _stored_drift(self) -> float | None:
        from .clocksync import EstimatorConfig

        raw = self._state.setting(DRIFT_SETTING)
        if raw is None or len(raw) != 8:
            return None
        (drift,) = struct.unpack(">d", raw)
        return float(drift) if abs(drift) <= EstimatorConfig().max_drift_ppm else None

    def _restore(self) -> None:
        from .clocksync import Holdover

        raw = self._state.setting(HOLDOVER_SETTING)
        if raw is None or self._boot_id is None or raw[:16] != self._boot_id:
            return  # never converged, or another boot: the drift alone is reused
        try:
            holdover = msgspec.msgpack.decode(raw[16:], type=Holdover)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("stored clock estimate unreadable (%s): starting afresh", exc)
            return
        self.exchange.restore(holdover)


def time_source(settings: AgentSettings, state: AgentState, clock: Clock | None, *,
                boot_id: bytes | None) -> TimeSource:
    """The configured source; ``clock`` (a test's) is the base it builds on."""
    if settings.clock.source == "exchange":
        return ExchangeTime(settings, state, clock or SystemClock(trust="never"),
                            boot_id=boot_id)
    return SystemTime(clock or SystemClock(trust=settings.clock.trust))


def _optional_int(clock: Clock, name: str) -> int | None:
    value = getattr(clock, name, None)
    if callable(value):
        try:
            value = value()
        except Exception:
            return None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None
