"""What the engine needs from an amplifier relay: switch it, and know its state."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class RelayError(Exception):
    """The relay could not be driven (no GPIO library, no such chip/line, busy line)."""


@runtime_checkable
class AmplifierRelay(Protocol):
    @property
    def is_on(self) -> bool: ...

    def set(self, on: bool) -> None:
        """Switch the amplifier; quick (a GPIO write), safe to call from the engine thread."""
        ...

    def close(self) -> None:
        """Release the line, leaving the amplifier off."""
        ...
