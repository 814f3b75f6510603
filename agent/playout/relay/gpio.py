"""Real amplifier relays on a GPIO line, through gpiozero or the libgpiod bindings.

Both libraries are imported inside the constructors: the agent imports this module on
machines without GPIO (and the architecture test imports every agent module), and a
missing library or line becomes a ``RelayError`` the integrator reports, never an
import-time crash. The line is requested *inactive* so the amplifier is off from boot
until the engine wants it; ``active_high=False`` serves relay boards that switch on a
low level (most cheap opto-isolated boards do).
"""

from __future__ import annotations

import threading
from typing import Any

from .base import RelayError


class GpioZeroRelay:
    """A relay on a BCM pin through gpiozero (``OutputDevice``)."""

    def __init__(self, pin: int | str, *, active_high: bool = True,
                 pin_factory: Any = None) -> None:
        try:
            from gpiozero import OutputDevice
        except ImportError as exc:
            raise RelayError(f"gpiozero unavailable: {exc}") from exc
        try:
            self._device: Any = OutputDevice(pin, active_high=active_high,
                                             initial_value=False, pin_factory=pin_factory)
        except Exception as exc:  # gpiozero raises its own GPIOZeroError family
            raise RelayError(f"cannot drive GPIO pin {pin}: {exc}") from exc
        self._lock = threading.Lock()

    @property
    def is_on(self) -> bool:
        with self._lock:
            return bool(self._device.value)

    def set(self, on: bool) -> None:
        with self._lock:
            try:
                if on:
                    self._device.on()
                else:
                    self._device.off()
            except Exception as exc:
                raise RelayError(f"relay switch failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            try:
                self._device.off()
            finally:
                self._device.close()


class GpiodRelay:
    """A relay on ``chip``/``line`` through libgpiod's Python bindings (v2, or v1 as in
    Debian bookworm's ``python3-libgpiod``)."""

    def __init__(self, chip: str = "/dev/gpiochip0", line: int = 17, *,
                 active_high: bool = True, consumer: str = "loaxa-amp") -> None:
        try:
            import gpiod
        except ImportError as exc:
            raise RelayError(f"libgpiod bindings unavailable: {exc}") from exc
        self._gpiod: Any = gpiod
        self._line = line
        self._on = False
        self._lock = threading.Lock()
        try:
            if hasattr(gpiod, "request_lines"):  # libgpiod v2
                from gpiod.line import Direction, Value
                self._active, self._inactive = Value.ACTIVE, Value.INACTIVE
                self._request: Any = gpiod.request_lines(
                    chip, consumer=consumer,
                    config={line: gpiod.LineSettings(direction=Direction.OUTPUT,
                                                     output_value=Value.INACTIVE,
                                                     active_low=not active_high)})
                self._v2 = True
            else:  # libgpiod v1
                self._active, self._inactive = 1, 0
                handle = gpiod.Chip(chip.rsplit("/", 1)[-1]).get_line(line)
                flags = 0 if active_high else gpiod.LINE_REQ_FLAG_ACTIVE_LOW
                handle.request(consumer=consumer, type=gpiod.LINE_REQ_DIR_OUT, flags=flags,
                               default_vals=[0])
                self._request = handle
                self._v2 = False
        except Exception as exc:
            raise RelayError(f"cannot request {chip} line {line}: {exc}") from exc

    @property
    def is_on(self) -> bool:
        with self._lock:
            return self._on

    def set(self, on: bool) -> None:
        with self._lock:
            value = self._active if on else self._inactive
            try:
                if self._v2:
                    self._request.set_value(self._line, value)
                else:
                    self._request.set_value(value)
            except Exception as exc:
                raise RelayError(f"relay switch failed: {exc}") from exc
            self._on = on

    def close(self) -> None:
        try:
            self.set(False)
        finally:
            with self._lock:
                self._request.release()
