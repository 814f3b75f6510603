"""Where each item stands on its way to each agent, and which changes the operator hears.

The content service notes every change of a transfer (``TransferNote``): a new state, or
more bytes acknowledged, several times a second while a transfer runs. The board keeps
the latest standing per (agent, item), for the API's per-item view, and picks what
becomes a ``content_transfer`` event: every change of state at once, progress at most
once per ``min_interval_s`` per agent and item (200 agents fetching must not flood the
event stream), and a held-back step once its interval is up, so the last percent seen is
never stale for long.

It remembers what this controller process has seen (a restart forgets it: an agent
that already holds an item never asks for it again), bounded to ``capacity`` entries,
the oldest finished ones dropped first.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

FINISHED = frozenset({"cached", "failed"})


@dataclass(frozen=True)
class Standing:
    """One agent's transfer of one item, as last noted."""

    agent_id: str
    sha256: str
    state: str  # queued | sending | late | cached | failed (TransferState values)
    size_bytes: int
    sent_bytes: int  # acknowledged by the agent (written to its cache)
    reason: str | None
    updated_at: dt.datetime

    @property
    def percent(self) -> int:
        if self.size_bytes <= 0:
            return 100 if self.state == "cached" else 0
        return max(0, min(100, self.sent_bytes * 100 // self.size_bytes))


@dataclass
class _Entry:
    standing: Standing
    published_sent: int = -1
    published_ns: int = 0


class DistributionBoard:
    """Thread-safe: the content service's thread records, API threads read."""

    def __init__(self, min_interval_s: float = 1.0, capacity: int = 20_000) -> None:
        self.min_interval_ns = int(min_interval_s * 1e9)
        self.capacity = capacity
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}
        # Every change of state, in order, until published: also one that a later note
        # replaced within the same round (queued, then sending, then cached).
        self._changes: list[Standing] = []

    def record(self, standing: Standing) -> None:
        key = (standing.agent_id, standing.sha256)
        with self._lock:
            entry = self._entries.pop(key, None)  # re-inserted last: the newest at the end
            if entry is None or entry.standing.state != standing.state:
                self._changes.append(standing)
            if entry is None:
                entry = _Entry(standing)
            entry.standing = standing
            self._entries[key] = entry
            self._trim()

    def due(self, now_ns: int) -> list[Standing]:
        """What to publish now, oldest first (and take it as published)."""
        with self._lock:
            out = list(self._changes)
            self._changes.clear()
            for change in out:
                entry = self._entries.get((change.agent_id, change.sha256))
                if entry is not None:
                    entry.published_sent, entry.published_ns = change.sent_bytes, now_ns
            for entry in self._entries.values():
                current = entry.standing
                if current.state in FINISHED or current.sent_bytes == entry.published_sent \
                        or now_ns - entry.published_ns < self.min_interval_ns:
                    continue
                entry.published_sent, entry.published_ns = current.sent_bytes, now_ns
                out.append(current)
            return out

    def of_item(self, sha256: str) -> list[Standing]:
        with self._lock:
            return [e.standing for (_agent, sha), e in self._entries.items() if sha == sha256]

    def _trim(self) -> None:
        if len(self._entries) <= self.capacity:
            return
        finished = [k for k, e in self._entries.items() if e.standing.state in FINISHED]
        for key in [*finished, *self._entries]:
            if len(self._entries) <= self.capacity:
                return
            self._entries.pop(key, None)
