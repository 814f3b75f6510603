"""Store and forward: the journal's backlog to the controller, in acknowledged batches.

The rules (principle 2), and why:

* **Oldest first**, in batches of at most ``batch_records`` records and ``batch_kb`` KiB
  (``JournalBatch``: records plus the gaps the journal declared).
* **A small window** (``window`` batches, default 2) may be unacknowledged at a time.
  After a day offline the backlog is thousands of records; sending it all at once would
  be exactly the burst a broker queue drops (Mosquitto drops QoS 1 past
  ``max_queued_messages``), and it would starve the live heartbeats on a thin 4G link.
  With a window, what is in the broker's queues per agent is bounded whether the
  controller is up or not.
* **An ack** (``JournalAck``, signed, verified by ``ControlInbox`` before it gets here)
  marks its ranges acknowledged in the journal. A batch leaves the window once its whole
  span is covered.
* **Retry on timeout**, go-back-N: when the oldest batch in flight has had no ack for
  ``ack_timeout_s``, everything unacknowledged is sent again from the oldest record. The
  timeout doubles (to ``ack_timeout_max_s``) while no ack arrives, so an agent whose
  controller is down for hours sends a couple of batches every few minutes, not a flood;
  the first ack resets it. The controller stores by ``(agent, journal_id, seq)``, so a
  record delivered twice is stored once.
* **Linger**: a backlog of nothing but interval extensions (the steady state: one record
  every few minutes) waits up to ``linger_s`` before it is sent, which saves most of the
  4G bytes of a batch and its ack; anything else (a close, a play record, an event) goes
  at once. Heartbeats carry the backlog's size and age meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from protocols.clock import Clock
from protocols.codec import encode
from protocols.messages import JournalAck, JournalBatch

from .journal import Journal, to_ranges

log = logging.getLogger("loaxa.agent.forwarder")


@dataclass(frozen=True)
class ForwardSettings:
    batch_records: int = 200
    batch_bytes: int = 32 * 1024
    window: int = 2
    ack_timeout_s: float = 30.0
    ack_timeout_max_s: float = 600.0
    linger_s: float = 600.0


@dataclass
class _InFlight:
    ranges: list[tuple[int, int]]  # seqs this batch carried not yet acknowledged
    last: int
    sent_ns: int
    records: int


@dataclass
class ForwardCounters:
    batches_sent: int = 0
    records_sent: int = 0
    records_acked: int = 0
    timeouts: int = 0
    stale_acks: int = 0  # acks for another journal (e.g. before a reflash)


class Forwarder:
    """Drives the journal's backlog through ``send`` (which returns False when offline)."""

    def __init__(self, journal: Journal, send: Callable[[bytes], bool], clock: Clock,
                 settings: ForwardSettings | None = None) -> None:
        self.journal = journal
        self.send = send
        self.clock = clock
        self.settings = settings or ForwardSettings()
        self.counters = ForwardCounters()
        self._online = False
        self._in_flight: list[_InFlight] = []
        self._cursor = 0  # highest seq covered by a batch in flight
        self._timeout_ns = int(self.settings.ack_timeout_s * 1e9)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def online(self) -> bool:
        return self._online

    def link_up(self) -> None:
        """The link is back: batches in flight get a fresh timeout (the broker session
        resumes, or they are retried), and sending resumes."""
        self._online = True
        now = self.clock.monotonic_ns()
        for batch in self._in_flight:
            batch.sent_ns = now
        self.pump()

    def link_down(self) -> None:
        self._online = False

    def on_ack(self, ack: JournalAck) -> int:
        """Apply a verified ack; returns how many records it newly acknowledged."""
        if ack.journal_id != self.journal.journal_id:
            self.counters.stale_acks += 1
            log.info("ignoring an ack for another journal")
            return 0
        acked = self.journal.acknowledge(ack.stored)
        self.counters.records_acked += acked
        spans = [(r.first, r.last) for r in ack.stored]
        before = len(self._in_flight)
        for batch in self._in_flight:
            batch.ranges = _subtract(batch.ranges, spans)
        # A batch leaves the window once every seq it carried is acknowledged, by one ack
        # or by several.
        self._in_flight = [b for b in self._in_flight if b.ranges]
        if acked or len(self._in_flight) < before:
            self._timeout_ns = int(self.settings.ack_timeout_s * 1e9)
        self.pump()
        return acked

    def tick(self) -> None:
        """Retry what timed out, then fill the window."""
        if self._in_flight and self._online:
            oldest = min(b.sent_ns for b in self._in_flight)
            if self.clock.monotonic_ns() - oldest >= self._timeout_ns:
                self.counters.timeouts += 1
                log.info("no journal ack within %.0f s: resending from the oldest record",
                         self._timeout_ns / 1e9)
                self._in_flight.clear()
                self._timeout_ns = min(self._timeout_ns * 2,
                                       int(self.settings.ack_timeout_max_s * 1e9))
        self.pump()

    def pump(self, *, flush: bool = False) -> int:
        """Send batches while the window has room; returns how many were sent."""
        if not self._online:
            return 0
        sent = 0
        settings = self.settings
        while len(self._in_flight) < settings.window:
            if not self._in_flight:
                self._cursor = 0  # nothing outstanding: start again at the oldest
                if not flush and settings.linger_s > 0:
                    backlog = self.journal.backlog()
                    if backlog.records == 0 and backlog.gaps == 0:
                        break
                    if backlog.only_extensions and backlog.oldest_age_s < settings.linger_s:
                        break
            batch = self.journal.batch(self._cursor, max_records=settings.batch_records,
                                       max_bytes=settings.batch_bytes)
            if batch is None:
                break
            payload = encode(JournalBatch(self.journal.journal_id, batch.entries, batch.gaps))
            if not self.send(payload):
                break
            carried = [(r.first, r.last) for r in to_ranges(e.seq for e in batch.entries)]
            carried += [(g.first, g.last) for g in batch.gaps]
            self._in_flight.append(_InFlight(carried, batch.last, self.clock.monotonic_ns(),
                                             len(batch.entries)))
            self._cursor = batch.last
            self.counters.batches_sent += 1
            self.counters.records_sent += len(batch.entries)
            sent += 1
        return sent


def _subtract(ranges: list[tuple[int, int]],
              spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``ranges`` that no span covers."""
    left = list(ranges)
    for start, end in spans:
        remaining: list[tuple[int, int]] = []
        for first, last in left:
            if end < first or start > last:
                remaining.append((first, last))
                continue
            if first < start:
                remaining.append((first, start - 1))
            if last > end:
                remaining.append((end + 1, last))
        left = remaining
    return left

