"""Feeding the systemd watchdog only while the agent demonstrably makes progress.

A process that is alive but wedged (a deadlocked network thread, a playout loop stuck on
a device) is worse than a dead one: systemd would restart a dead one. So ``WATCHDOG=1``
is sent only when every monitored loop has turned recently. Being *offline* is not a
lack of progress: the network loop keeps turning while it waits to reconnect, and a
restart would only interrupt playout (principle 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Source:
    marker: Callable[[], object]
    last: object
    changed_ns: int


class ProgressGate:
    """Remembers when each source's progress marker last changed."""

    def __init__(self, stall_ns: int) -> None:
        self.stall_ns = stall_ns
        self._sources: dict[str, _Source] = {}
        self._blocked: dict[str, str] = {}

    def watch(self, name: str, marker: Callable[[], object], now_ns: int) -> None:
        self._sources[name] = _Source(marker, _read(marker), now_ns)

    def block(self, name: str, why: str) -> None:
        """Declare a condition that must withhold the watchdog (e.g. repeated errors)."""
        self._blocked[name] = why

    def unblock(self, name: str) -> None:
        self._blocked.pop(name, None)

    def stalled(self, now_ns: int) -> list[str]:
        """Names of sources without progress for longer than the stall limit."""
        stalled = [f"{name}: {why}" for name, why in self._blocked.items()]
        for name, source in self._sources.items():
            value = _read(source.marker)
            if value != source.last:
                source.last = value
                source.changed_ns = now_ns
            elif now_ns - source.changed_ns > self.stall_ns:
                stalled.append(f"{name}: no progress for "
                               f"{(now_ns - source.changed_ns) / 1e9:.0f} s")
        return stalled


def _read(marker: Callable[[], object]) -> object:
    try:
        return marker()
    except Exception as exc:  # a broken marker is no progress
        return ("error", repr(exc))
