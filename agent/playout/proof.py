"""Proof of play (issue 6 item 8): one ``Play`` record per airing, stamped by the sink.

An airing ends in the render, ``ahead_ms`` before its last frame is heard. Its record
waits here until the sink reports when its first and last frames were *presented* (the
device's own stamps), then goes to the dispatcher; after ``timeout_ns`` it goes without
them (the sink failed or stopped pulling), with ``Evidence.PROCESS``. Times are reported
on the wall clock as it reads when the record is made, so a clock corrected since the
airing reports the corrected time.
"""

from __future__ import annotations

from protocols.clock import Clock, stamp
from protocols.messages import Evidence, Play, PlayOutcome

from .airing import Closing, Entry
from .dispatch import Dispatcher
from .pcm import NS_PER_FRAME
from .sinks.base import Sink, SinkError


class ProofOfPlay:
    def __init__(self, clock: Clock, sink: Sink, dispatch: Dispatcher, *, boot: int,
                 timeout_ns: int) -> None:
        self._clock = clock
        self._sink = sink
        self._dispatch = dispatch
        self._boot = boot
        self._timeout = timeout_ns
        self._closings: list[Closing] = []

    @property
    def waiting(self) -> bool:
        return bool(self._closings)

    def aired(self, entry: Entry, outcome: PlayOutcome, reason: str,
              first_frame: int | None, end_frame: int, now: int) -> None:
        """Something was written for ``entry`` (frames ``first_frame..end_frame``)."""
        self._closings.append(Closing(entry, outcome, reason, first_frame, end_frame,
                                      now + self._timeout))

    def unaired(self, entry: Entry, outcome: PlayOutcome, reason: str) -> None:
        """Nothing of ``entry`` was written: the record goes at once, without times."""
        self._emit(entry, outcome, reason, None, None)

    def truncate(self, written: int, cause: str) -> None:
        """Frames from ``written`` on were taken back from the sink (a cut)."""
        for c in self._closings:
            if c.end_frame > written:
                c.end_frame = written
                if c.first_frame is not None and c.first_frame >= written:
                    c.first_frame = None
                if c.outcome == PlayOutcome.AIRED:
                    c.outcome, c.reason = PlayOutcome.PARTIAL, f"cut short: {cause}"

    def collect(self, now: int, off: int, sink_ok: bool, *, force: bool = False) -> None:
        """Emit every record whose frames were presented (or that waited too long)."""
        for c in list(self._closings):
            first = last = None
            if c.first_frame is not None and c.end_frame > c.first_frame:
                try:  # a failed sink still knows what it presented before failing
                    first = self._sink.presented_at(c.first_frame)
                    last = self._sink.presented_at(c.end_frame - 1)
                except SinkError:
                    first = last = None
            wait = sink_ok and not force and now < c.deadline
            if last is None and c.first_frame is not None and wait:
                continue
            self._closings.remove(c)
            first_wall = None if first is None else first + off
            end_wall = None if last is None else last + off + round(NS_PER_FRAME)
            self._emit(c.entry, c.outcome, c.reason, first_wall, end_wall)

    def _emit(self, entry: Entry, outcome: PlayOutcome, reason: str, first: int | None,
              end: int | None) -> None:
        evidence = Evidence.SINK if first is not None and self._sink.real else Evidence.PROCESS
        self._dispatch.play(Play(
            stamp=stamp(self._clock, self._boot), slot_id=entry.key[:96],
            content=entry.content, scheduled_ns=entry.scheduled_ns, first_sample_ns=first,
            end_ns=end, outcome=outcome, reason=reason[:256], evidence=evidence,
            extrapolated=entry.extrapolated))
