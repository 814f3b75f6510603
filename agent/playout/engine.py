"""The playout engine: one thread that keeps the sink fed and airs slots on time.

How time works here. The engine keeps the sink's FIFO filled ``ahead_ms`` beyond the
presentation time of what is being written, with silence when nothing airs, so the
device never stops and every written frame has a predictable presentation time: the
``PresentationLine`` fitted to the sink's own anchors (DAC times, or the fake's crystal).
Everything that airs has an *origin*: the instant its sample 0 is due, as a wall time
(plan slots: the slot's start read by the ``Clock``, re-converted to monotonic on every
chunk so clock-exchange corrections apply) or as a monotonic time (emergencies, which do
not need trusted time). For each chunk the engine compares the sample it is about to
write with the sample due at that frame's presentation time and inserts or drops single
samples (Snapcast-style) to keep the error under a sample; beyond ``resync_ms`` it jumps.
A slot therefore starts with its first sample presented at its start and stays there
for the whole item, whatever the card's drift.

Who airs. Plan slots wait for trusted time. A slot due while another airs pre-empts it
(higher priority and ``PREEMPT``), waits for it (``QUEUE_AFTER``, or ``PREEMPT`` without
higher priority) or is skipped (``SKIP_IF_BUSY``). A pre-empted slot restarts from its
beginning once the air is free, if that is before its ``window_end_ns``. A slot found
already running (agent restarted, time trusted late, plan arrived late) joins at the
matching offset when village neighbours air it too, restarts when it is at most
``grace_s`` late, and is otherwise missed. Emergencies pre-empt anything at once: the
queued FIFO is taken back to what the card needs, and an item kept ready (``keep_ready``:
the plan's pins) is written from its pre-decoded start in the same tick.

The thread never touches disk or network: decoders run in their own threads (pre-roll),
records and events go to a dispatcher thread, the relay is a GPIO write.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from protocols.clock import Clock
from protocols.messages import HardTimePolicy, PlayOutcome, Priority

from .airing import Airing, Entry
from .config import EngineConfig, NowPlaying
from .correction import plan_corrections, spread_corrections
from .decoder import PcmStream
from .dispatch import Dispatcher, EventCallback, PlayCallback
from .pcm import FRAME_BYTES, NS_PER_FRAME, RATE, frames_in, gain, silence
from .proof import ProofOfPlay
from .relay.base import AmplifierRelay, RelayError
from .sinks.base import Sink, SinkError
from .slots import EmergencyRequest, ScheduledSlot
from .sources import BytesSource, ChainSource, LaterSource, Source, StreamSource
from .timing import PresentationLine
from .tone import attention_tone
from .warm import WarmStore

log = logging.getLogger("loaxa.playout")

MS = 1_000_000
S = 1_000_000_000
# The reason on the play records of a clean stop (an upgrade, a restart by the operator):
# the next run treats those slots as still to air, as it does after a crash.
STOPPED_REASON = "engine stopped"


@dataclass
class _Commands:
    lock: threading.Lock = field(default_factory=threading.Lock)
    items: deque[tuple[str, object]] = field(default_factory=deque)


class PlayoutEngine:
    """Airs a timeline through a ``Sink``, switching an ``AmplifierRelay``.

    ``content_path`` maps a content sha256 to its cached file (default: the hex digest
    under ``cache_dir``). ``on_play`` receives a ``Play`` for every slot and emergency
    airing; ``on_event`` receives ``(code, detail)`` events (amp switched, underrun,
    resync, sink failure). Both are called from a dispatcher thread, never the engine's.
    """

    def __init__(self, clock: Clock, sink: Sink, relay: AmplifierRelay, *,
                 cache_dir: Path | None = None,
                 content_path: Callable[[bytes], Path] | None = None,
                 on_play: PlayCallback | None = None, on_event: EventCallback | None = None,
                 config: EngineConfig | None = None) -> None:
        if content_path is None:
            if cache_dir is None:
                raise ValueError("give cache_dir or content_path")
            base = cache_dir
            content_path = lambda sha: base / sha.hex()  # noqa: E731
        self._clock = clock
        self._sink = sink
        self._relay = relay
        self._path = content_path
        self.config = config or EngineConfig()
        self._dispatch = Dispatcher(on_play, on_event)
        self._cmds = _Commands()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="playout", daemon=True)
        self._state_lock = threading.Lock()
        self._progress = 0
        self._now_playing: NowPlaying | None = None
        self._volume = self.config.volume
        self._amp_on = False
        self._line = PresentationLine()
        self._tone = attention_tone()
        self._warm = WarmStore(self._decoder, frames=self.config.warm_ms * RATE // 1000,
                               capacity=self.config.warm_items)
        self._kept_ready: frozenset[bytes] = frozenset()
        # engine-thread state
        self._pending: list[Entry] = []  # timeline entries and emergency repeats
        self._queued: list[Entry] = []  # restarts and queue_after, ready when air is free
        self._urgent: Entry | None = None  # an emergency to start now
        self._airing: Airing | None = None
        self._later: list[LaterSource] = []  # decoders to start once this tick has written
        self._proof = ProofOfPlay(clock, sink, self._dispatch, boot=self.config.boot,
                                  timeout_ns=round(self.config.record_timeout_s * S))
        self._done: set[str] = set()  # slot ids finalised (never aired twice)
        self._emergency: EmergencyRequest | None = None
        self._emergency_count = 0
        self._amp_since = 0
        self._amp_hold_until = 0
        self._sink_ok = False
        self._sink_retry_at = 0
        self._open_frame = 0
        self._last_underruns = 0

    # ------------------------------------------------------------------ public API
    def start(self) -> None:
        """Switch the amplifier off, open the sink and start the engine thread."""
        self._set_amp(False, force=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread: the airing ends as PARTIAL, the relay goes off, records flush."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._dispatch.close(timeout)

    def set_timeline(self, slots: Iterable[ScheduledSlot], *, done: Iterable[str] = ()) -> None:
        """Replace the future with ``slots``; what is on air (or queued to restart) stays.

        ``done``: slot ids the journal already has play records for (after a restart),
        so they are not aired again. Slots that ended before now are ignored: their fate
        belongs to the journal of the run that saw them.
        """
        self._command("timeline", (list(slots), set(done)))

    def play_now(self, request: EmergencyRequest) -> None:
        """Air an emergency now (pre-empting anything), repeating until ``stop_emergency``."""
        self._command("emergency", request)

    def keep_ready(self, contents: Iterable[bytes]) -> None:
        """Items an emergency may air (most important first): their first ``warm_ms``
        is kept decoded in memory, so an emergency airing one is heard at once."""
        self._command("warm", list(contents))

    def stop_emergency(self, emergency_id: str | None = None) -> None:
        """End the emergency (its airing stops at once) and its repeats."""
        self._command("stop_emergency", emergency_id)

    def stop(self) -> None:
        """The ``StopPlayback`` command: silence what is on air and any emergency now;
        pending restarts are dropped; the plan's future slots still air."""
        self._command("stop", None)

    @property
    def volume(self) -> int:
        with self._state_lock:
            return self._volume

    @volume.setter
    def volume(self, level: int) -> None:
        with self._state_lock:
            self._volume = max(0, min(100, int(level)))

    @property
    def amp_on(self) -> bool:
        with self._state_lock:
            return self._amp_on

    def progress_marker(self) -> int:
        """Advances on every engine tick: the systemd watchdog pets only while it moves."""
        with self._state_lock:
            return self._progress

    def now_playing(self) -> NowPlaying | None:
        with self._state_lock:
            return self._now_playing

    def kept_ready(self) -> frozenset[bytes]:
        """The items whose start is decoded in memory now (``keep_ready``)."""
        with self._state_lock:
            return self._kept_ready

    @property
    def sink_ok(self) -> bool:
        """Whether the sink is open and taking samples (the availability evidence); a bool
        written only by the engine thread, read without a lock."""
        return self._sink_ok

    @property
    def drift_ppm(self) -> float:
        """The sink's measured drift against the clock (telemetry)."""
        return self._line.drift_ppm

    # ------------------------------------------------------------------ thread
    def _command(self, kind: str, arg: object) -> None:
        with self._cmds.lock:
            self._cmds.items.append((kind, arg))
        self._wake.set()

    def _run(self) -> None:
        tick = self.config.tick_ms / 1000
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # the engine never dies; the watchdog sees progress stop
                log.exception("playout tick failed")
                self._dispatch.event("playout-error", "tick failed; see the agent log")
            with self._state_lock:
                self._progress += 1
            self._wake.wait(tick)
            self._wake.clear()
        self._shutdown()

    def _tick(self) -> None:
        now = self._clock.monotonic_ns()
        off = self._offset()
        if not self._sink_ok:
            self._open_sink(now)
        try:
            if self._sink_ok:
                self._observe_sink()  # first: a cut must know what the card already took
            self._handle_commands(now, off)
            self._warm.poll(now)
            if self._warm.ready != self._kept_ready:
                with self._state_lock:
                    self._kept_ready = self._warm.ready
            if self._sink_ok:
                self._plan(now, off)
                self._render(now, off)
        except SinkError as exc:
            self._sink_failed(now, str(exc))
        for later in self._later:
            later.open()
        self._later.clear()
        self._proof.collect(now, off, self._sink_ok)
        self._drive_amp(now, off)
        self._publish(off)

    def _offset(self) -> int:
        """wall - mono, read once per use so a corrected clock applies at once."""
        mono = self._clock.monotonic_ns()
        return self._clock.wall_ns() - mono

    # ------------------------------------------------------------------ sink health
    def _open_sink(self, now: int) -> bool:
        if now < self._sink_retry_at:
            return False
        try:
            self._sink.open()
        except SinkError as exc:
            self._sink_retry_at = now + round(self.config.sink_retry_s * S)
            self._dispatch.event("sink-open-failed", str(exc)[:1000])
            return False
        self._sink_ok = True
        self._line.reset()
        self._open_frame = self._sink.frames_written()  # anchors before this are stale
        return True

    def _sink_failed(self, now: int, reason: str) -> None:
        log.error("sink failed: %s", reason)
        self._dispatch.event("sink-failed", reason[:1000])
        if self._airing is not None:
            self._end_airing(PlayOutcome.PARTIAL, f"sink failure: {reason}", now)
        with contextlib.suppress(SinkError):
            self._sink.close()
        self._sink_ok = False
        self._sink_retry_at = now + round(self.config.sink_retry_s * S)

    def _observe_sink(self) -> None:
        anchor = self._sink.timing()
        if anchor is not None and anchor.frame >= self._open_frame:
            self._line.add(anchor)
        underruns = self._sink.underruns()
        if underruns != self._last_underruns:
            self._dispatch.event("sink-underrun", f"{underruns - self._last_underruns} more")
            self._last_underruns = underruns

    # ------------------------------------------------------------------ commands
    def _handle_commands(self, now: int, off: int) -> None:
        while True:
            with self._cmds.lock:
                if not self._cmds.items:
                    return
                kind, arg = self._cmds.items.popleft()
            if kind == "timeline":
                assert isinstance(arg, tuple)
                slots, done = arg
                self._apply_timeline(slots, done, now, off)
            elif kind == "emergency":
                assert isinstance(arg, EmergencyRequest)
                self._start_emergency(arg, now)
            elif kind == "warm":
                assert isinstance(arg, list)
                self._warm.want(arg)
            elif kind == "stop_emergency":
                assert arg is None or isinstance(arg, str)
                self._end_emergency(arg, now)
            elif kind == "stop":
                self._end_emergency(None, now)
                for entry in self._queued:
                    self._close_entry_source(entry)
                    self._record_unaired(entry, PlayOutcome.PREEMPTED, "stopped by command")
                self._queued.clear()
                if self._airing is not None:
                    self._cut(now, "stopped by command", self.config.ahead_ms)
                    self._end_airing(PlayOutcome.PARTIAL, "stopped by command", now)

    def _apply_timeline(self, slots: list[ScheduledSlot], done: set[str], now: int,
                        off: int) -> None:
        self._done |= done
        keep_keys = {e.key for e in self._queued}
        if self._airing is not None:
            keep_keys.add(self._airing.entry.key)
        fresh: dict[str, Entry] = {}
        for item in slots:
            slot = item.slot
            if slot.slot_id in self._done or slot.slot_id in keep_keys:
                continue
            limit = -(-slot.duration_ms * RATE // 1000)
            if slot.start_ns + slot.duration_ms * MS <= now + off:
                continue  # history: not ours to judge
            fresh[slot.slot_id] = Entry(
                key=slot.slot_id, content=slot.content, priority=slot.priority,
                policy=slot.policy, scheduled_ns=slot.start_ns,
                window_end_ns=slot.window_end_ns, limit_frames=limit,
                peers=item.village_peers, extrapolated=item.extrapolated,
                due_wall=slot.start_ns, from_timeline=True)
        kept: list[Entry] = []
        for entry in self._pending:
            if not entry.from_timeline:
                kept.append(entry)  # emergency repeats are not the plan's business
                continue
            new = fresh.get(entry.key)
            if (new is not None and entry.source is not None and new.content == entry.content
                    and new.due_wall == entry.due_wall and new.start_sample == 0
                    and entry.start_sample == 0):
                new.source = entry.source  # keep the pre-rolled decoder
            elif entry.source is not None:
                entry.source.close()
        self._pending = kept + list(fresh.values())

    # ------------------------------------------------------------------ emergencies
    def _start_emergency(self, request: EmergencyRequest, now: int) -> None:
        if self._emergency is not None and self._emergency.emergency_id != request.emergency_id:
            self._end_emergency(None, now)
        self._pending = [e for e in self._pending if e.emergency is None]
        self._emergency = request
        self._emergency_count = 0
        if self._urgent is not None:
            self._close_entry_source(self._urgent)
        self._urgent = self._emergency_entry(request, None, None, open_source=True)
        if not self.amp_on:
            self._set_amp(True)
        if self._sink_ok:
            # Queued silence or audio: the emergency goes next, not after it. When its
            # audio can be written at once (kept ready, amplifier on), only the bridge to
            # that write stays queued; otherwise what it waits behind.
            cfg = self.config
            ready = self._startable(self._urgent, self._keep_until(now, cfg.cut_fill_ms))
            self._cut(now, f"emergency {request.emergency_id}",
                      cfg.cut_fill_ms if ready else cfg.wait_fill_ms)

    def _emergency_entry(self, request: EmergencyRequest, due_mono: int | None,
                         due_wall: int | None, *, open_source: bool) -> Entry:
        n = self._emergency_count
        self._emergency_count += 1
        wall = self._clock.wall_ns()
        entry = Entry(key=f"emergency:{request.emergency_id}:{n}"[:96],
                       content=request.content, priority=Priority.EMERGENCY,
                       policy=HardTimePolicy.PREEMPT,
                       scheduled_ns=due_wall if due_wall is not None else wall,
                       window_end_ns=wall, limit_frames=None, emergency=request,
                       due_mono=due_mono, due_wall=due_wall,
                       floating=due_mono is None and due_wall is None)
        if open_source:
            self._ensure_source(entry)
        return entry

    def _end_emergency(self, emergency_id: str | None, now: int) -> None:
        current = self._emergency
        if current is None or (emergency_id is not None
                               and current.emergency_id != emergency_id):
            return
        self._emergency = None
        for entry in [e for e in self._pending if e.emergency is not None]:
            if entry.source is not None:
                entry.source.close()
            self._pending.remove(entry)
        if self._urgent is not None:
            self._close_entry_source(self._urgent)
            self._record_unaired(self._urgent, PlayOutcome.PARTIAL, "emergency stopped")
            self._urgent = None
        if self._airing is not None and self._airing.entry.emergency is not None:
            self._cut(now, "emergency stopped", self.config.ahead_ms)
            self._end_airing(PlayOutcome.PARTIAL, "emergency stopped", now)

    def _schedule_repeat(self, started_mono: int, off: int) -> None:
        request = self._emergency
        if request is None or request.repeat_every_s <= 0:
            return
        period = request.repeat_every_s * S
        trusted = self._clock.quality().trusted
        if request.started_ns is not None and trusted:
            wall_now = started_mono + off
            k = max(1, (wall_now - request.started_ns) // period + 1)
            entry = self._emergency_entry(request, None, request.started_ns + k * period,
                                          open_source=False)
        else:
            entry = self._emergency_entry(request, started_mono + period, None,
                                          open_source=False)
        self._pending.append(entry)  # its decoder opens at pre-roll time like any slot

    # ------------------------------------------------------------------ planning
    def _decoder(self, content: bytes, start: int, limit: int | None, name: str) -> PcmStream:
        """A decoder thread for ``content``; it finds (and verifies) the file itself, so
        the engine thread never touches the disk."""
        return PcmStream(lambda: self._path(content), start_frame=start, limit_frames=limit,
                         expected_sha256=content, name=name, on_ready=self._wake.set)

    def _item_source(self, content: bytes, start: int, limit: int | None,
                     name: str) -> Source:
        """The item from sample ``start``; from memory first when its start is kept ready."""
        prefix = self._warm.prefix(content) if start == 0 else None
        if prefix is None:
            return StreamSource(self._decoder(content, start, limit, name))
        pcm = prefix.pcm if limit is None else prefix.pcm[:limit * FRAME_BYTES]
        n = frames_in(pcm)
        if prefix.whole or (limit is not None and n >= limit):
            return BytesSource(pcm)
        rest = LaterSource(lambda: StreamSource(
            self._decoder(content, n, None if limit is None else limit - n, name)))
        self._later.append(rest)
        return ChainSource(BytesSource(pcm), rest)

    def _ensure_source(self, entry: Entry) -> Source:
        if entry.source is None:
            limit = None if entry.limit_frames is None else max(
                entry.limit_frames - entry.start_sample, 0)
            item = self._item_source(entry.content, entry.start_sample, limit, entry.key[:12])
            if entry.emergency is not None and entry.emergency.attention_tone:
                entry.source = ChainSource(BytesSource(self._tone), item)
            else:
                entry.source = item
        return entry.source

    def _plan(self, now: int, off: int) -> None:
        """Pre-roll decoders for what is due soon."""
        horizon = now + round(self.config.preroll_s * S)
        trusted = self._clock.quality().trusted
        for entry in self._pending:
            if entry.source is None and (trusted or entry.due_mono is not None):
                due = entry.due(off)
                if due is not None and due <= horizon:
                    self._ensure_source(entry)

    def _next_pending(self, off: int) -> tuple[Entry, int] | None:
        trusted = self._clock.quality().trusted
        best: tuple[Entry, int] | None = None
        for entry in self._pending:
            if entry.due_mono is None and not trusted:
                continue
            due = entry.due(off)
            if due is None:
                continue
            if best is None or (due, -entry.priority) < (best[1], -best[0].priority):
                best = (entry, due)
        return best

    # ------------------------------------------------------------------ rendering
    def _render(self, now: int, off: int) -> None:
        cfg = self.config
        horizon = now + cfg.ahead_ms * MS
        for _ in range(256):  # bounded: a stuck condition cannot spin the thread
            w = self._sink.frames_written()
            p = self._line.predict(w)
            if p is None:  # the card has not pulled anything yet: give it silence to pull
                prime = self._open_frame + cfg.ahead_ms * RATE // 1000
                if w < prime:
                    self._sink.write(silence(prime - w))
                return
            if p >= horizon:
                return
            n = min(cfg.chunk_frames, self._sink.space())
            if n <= 0:
                return
            chunk_end = p + n * NS_PER_FRAME
            if self._airing is None:
                if self._render_idle(w, p, n, chunk_end, now, off):
                    return
                continue
            if self._urgent is not None:
                self._preempt(self._urgent.key, p, now)
                continue
            nxt = self._next_pending(off)
            if nxt is not None and nxt[1] < chunk_end:
                entry, due = nxt
                m = round((due - p) / NS_PER_FRAME)
                if m > 0:
                    n = m
                else:
                    self._pending.remove(entry)
                    self._collide(entry, p, now, off)
                    continue
            self._render_airing(self._airing, w, p, n, now, off)

    def _render_idle(self, w: int, p: float, n: int, chunk_end: float, now: int,
                     off: int) -> bool:
        """Render one step with nothing on air; True when rendering should pause."""
        waiting_until = self._keep_until(now, self.config.wait_fill_ms)
        if self._urgent is not None:
            entry = self._urgent
            if self._startable(entry, p):
                # What it waited behind is silence: only the bridge to its first write
                # stays queued (the next pass begins it, at the earlier position).
                bridge = self.config.cut_fill_ms
                if self._startable(entry, self._keep_until(now, bridge)) and self._cut(
                        now, f"{entry.key} ready", bridge):
                    return False
                self._urgent = None
                self._begin(entry, p, off)
                return False
            # Its audio is moments away: keep the card fed, but only just, so the
            # emergency is heard right after what is queued now (not after 150 ms).
            if p >= waiting_until:
                return True
            self._sink.write(silence(n))
            return False
        if self._queued:
            self._queued.sort(key=lambda e: (-e.priority, e.scheduled_ns))
            entry = self._queued[0]
            if p + off > entry.window_end_ns:
                self._queued.pop(0)
                self._close_entry_source(entry)
                self._record_unaired(entry, *self._window_closed(entry))
                return False
            if self._startable(entry, p):
                self._queued.pop(0)
                self._begin(entry, p, off)
                return False
            if p >= waiting_until:
                return True
            self._sink.write(silence(n))
            return False
        nxt = self._next_pending(off)
        if nxt is not None and nxt[1] < chunk_end:
            entry, due = nxt
            k = round((due - p) / NS_PER_FRAME)
            if k > 0:
                self._sink.write(silence(k))
                return False
            self._pending.remove(entry)
            if k < 0 and entry.from_timeline and not entry.joined:
                self._late(entry, p, off)
            else:
                self._begin(entry, p, off)
            return False
        self._sink.write(silence(n))
        return False

    def _startable(self, entry: Entry, p: float) -> bool:
        """Floating entries start once their audio is ready (and, for an emergency, the
        amplifier has had its lead time)."""
        if not self._ensure_source(entry).ready():
            return False
        if entry.emergency is not None and self.config.emergency_waits_for_amp:
            return p >= self._amp_since + self.config.amp_lead_ms * MS
        return True

    def _late(self, entry: Entry, p: float, off: int) -> None:
        """A plan slot whose start already passed: join, restart or miss it."""
        assert entry.due_wall is not None
        start_mono = entry.due_wall - off
        late_ns = p - start_mono
        limit = entry.limit_frames or 0
        if entry.peers > 0:
            join_at = p + self.config.join_preroll_ms * MS
            offset = round((join_at - start_mono) / NS_PER_FRAME)
            if offset >= limit:
                self._close_entry_source(entry)
                self._record_unaired(entry, PlayOutcome.MISSED,
                                     f"late by {late_ns / S:.1f} s: item already over")
                return
            self._close_entry_source(entry)
            entry.start_sample = offset
            entry.joined = True
            entry.note = f"joined at +{offset / RATE:.3f} s (village peers airing)"
            self._ensure_source(entry)
            self._pending.append(entry)
            return
        if late_ns <= self.config.grace_s * S:
            # the grace is the rule here, whatever restart window the plan gave
            entry.window_end_ns = max(entry.window_end_ns,
                                      entry.scheduled_ns + round(self.config.grace_s * S))
            entry.floating = True
            entry.note = f"started {late_ns / S:.3f} s late (within grace)"
            self._queued.append(entry)
            return
        self._close_entry_source(entry)
        self._record_unaired(entry, PlayOutcome.MISSED,
                             f"late by {late_ns / S:.1f} s, beyond the "
                             f"{self.config.grace_s:g} s grace")

    def _collide(self, entry: Entry, p: float, now: int, off: int) -> None:
        """``entry`` is due while something airs: pre-empt, queue or skip (per its policy)."""
        airing = self._airing
        assert airing is not None
        current = airing.entry
        if entry.policy == HardTimePolicy.SKIP_IF_BUSY and entry.emergency is None:
            self._close_entry_source(entry)
            self._record_unaired(entry, PlayOutcome.SKIPPED, f"busy: {current.key} on air")
            return
        if entry.emergency is not None or (entry.policy == HardTimePolicy.PREEMPT
                                           and entry.priority > current.priority):
            self._preempt(entry.key, p, now)
            late = p - (entry.due(off) or p) > NS_PER_FRAME
            if late and entry.from_timeline and not entry.joined:
                self._late(entry, p, off)
            else:
                self._begin(entry, p, off)
            return
        entry.floating = True
        entry.note = f"queued after {current.key}"
        self._queued.append(entry)

    def _preempt(self, by: str, p: float, now: int) -> None:
        """End the current airing because ``by`` takes the air; restart it later if its
        window allows (decided when the air is free again)."""
        airing = self._airing
        assert airing is not None
        entry = airing.entry
        self._end_airing(None, "", now, preempted=True)
        if entry.emergency is not None:
            self._record_airing(airing, PlayOutcome.PREEMPTED, f"pre-empted by {by}", now)
            return
        restart = Entry(key=entry.key, content=entry.content, priority=entry.priority,
                         policy=entry.policy, scheduled_ns=entry.scheduled_ns,
                         window_end_ns=entry.window_end_ns, limit_frames=entry.limit_frames,
                         peers=entry.peers, extrapolated=entry.extrapolated, floating=True,
                         from_timeline=entry.from_timeline,
                         note=f"restarted after pre-emption by {by}", preempted_by=by,
                         interrupted=airing)
        self._ensure_source(restart)  # decodes ahead while the pre-emptor airs
        self._queued.append(restart)

    @staticmethod
    def _window_closed(entry: Entry) -> tuple[PlayOutcome, str]:
        if entry.preempted_by is not None:
            return PlayOutcome.PREEMPTED, f"pre-empted by {entry.preempted_by}; window closed"
        return PlayOutcome.MISSED, f"{entry.note}; window closed before the air was free"

    def _begin(self, entry: Entry, p: float, off: int) -> None:
        source = self._ensure_source(entry)
        if entry.floating:
            origin_wall = None if entry.emergency is not None else round(p) + off
            origin_mono = round(p) if entry.emergency is not None else None
            s = 0
        elif entry.due_mono is not None:
            origin_wall, origin_mono, s = None, entry.due_mono, 0
        else:
            assert entry.due_wall is not None
            origin_wall, origin_mono, s = entry.due_wall, None, entry.start_sample
        volume = None
        if entry.emergency is not None:
            volume = entry.emergency.volume if entry.emergency.volume is not None \
                else self.config.emergency_volume
        self._airing = Airing(entry, source, origin_wall, origin_mono, s, volume,
                               end_frame=self._sink.frames_written())
        self._publish(off)

    def _render_airing(self, a: Airing, w: int, p: float, n: int, now: int, off: int) -> None:
        """Write the next ``n`` frames of the airing, keeping each sample on its due time.

        Source samples that time has passed by (a resync, or a decoder that fell behind
        and left a gap of silence) are skipped, not played late: ``a.s`` always counts
        the samples that time has consumed, ``a.skip`` those still to discard."""
        cfg = self.config
        ideal = (p - a.origin(off)) / NS_PER_FRAME
        err = a.s - ideal  # > 0: this sample would be early (insert); < 0: late (drop)
        insert = drop = 0
        if cfg.drift_correction or a.first_frame is None:
            if abs(err) * NS_PER_FRAME > cfg.resync_ms * MS or a.first_frame is None:
                k = round(err)
                if k > 0:
                    self._sink.write(silence(min(k, n)))  # hold: the item is early
                    return
                if k < 0:
                    a.s -= k
                    a.skip -= k
                    if a.first_frame is not None:
                        a.resyncs += 1
                        self._dispatch.event("playout-resync", f"{a.entry.key}: {k} frames")
            elif cfg.drift_correction:
                insert, drop = plan_corrections(err, n, cfg.max_correction_ppm)
        if a.skip:
            a.skip -= frames_in(a.source.read(a.skip))
        want = n - insert + drop
        data = a.source.read(want) if not a.skip else b""
        got = frames_in(data)
        if got == 0 and a.source.finished:
            self._end_airing(None, "", now)
            return
        missing = 0
        if got < want:  # decoder behind (or just ending): a gap, those samples skipped
            missing = n - got
            data += silence(missing)
            a.skip += missing
            a.s += missing
            a.starved += missing
            insert = drop = 0
        elif insert or drop:
            data = spread_corrections(data, insert, drop)
            a.corrections += insert + drop
        a.s += got
        if got and a.starved and not missing:  # it was a real gap, not the item's end
            self._dispatch.event("decoder-late", f"{a.entry.key}: {a.starved} frames skipped")
            a.starved = 0
        if got and a.first_frame is None:
            a.first_frame = self._sink.frames_written()
        vol = a.volume if a.volume is not None else self.volume
        accepted = self._sink.write(gain(data, vol))
        if got:  # the airing ends with its last real sample, not a trailing gap
            a.end_frame = self._sink.frames_written() - missing
        if accepted < frames_in(data):
            log.warning("sink accepted %d of %d frames", accepted, frames_in(data))

    def _cut(self, now: int, cause: str, fill_ms: int) -> bool:
        """Take back queued-but-unplayed frames so a stop or emergency is heard at once.

        ``fill_ms`` stays queued beyond what the card took: cutting to nothing would
        leave the card only its own period to wait for the next write, an underrun under
        load (harmless before an emergency that writes at once, not before silence).
        True when frames were taken back."""
        w = self._sink.frames_written()
        p = self._line.predict(w)
        keep_until = self._keep_until(now, fill_ms)
        excess = (1 << 30) if p is None else int((p - keep_until) / NS_PER_FRAME)
        if excess <= 0:
            return False
        taken = self._sink.retract(excess)
        if not taken:
            return False
        w = self._sink.frames_written()
        if self._airing is not None:
            a = self._airing
            a.end_frame = min(a.end_frame, w)
            if a.first_frame is not None and a.first_frame >= w:
                a.first_frame = None
        self._proof.truncate(w, cause)
        return True

    def _keep_until(self, now: int, fill_ms: int) -> int:
        """``fill_ms`` beyond what the card has already taken (out of our reach)."""
        pulled = self._line.pulled_until_ns
        return max(now, pulled or now) + fill_ms * MS

    def _end_airing(self, outcome: PlayOutcome | None, reason: str, now: int, *,
                    preempted: bool = False) -> None:
        """Close the current airing. ``outcome`` None: decide from how it ended.
        ``preempted``: the caller records it or queues its restart."""
        a = self._airing
        if a is None:
            return
        self._airing = None
        finished, error = a.source.finished, a.source.error
        a.source.close()
        end_p = self._line.predict(a.end_frame)
        if end_p is not None:
            self._amp_hold_until = max(self._amp_hold_until,
                                       round(end_p) + self.config.amp_tail_ms * MS)
        if a.entry.emergency is not None and self._emergency is a.entry.emergency:
            off = self._offset()
            self._schedule_repeat(a.origin(off), off)
        if preempted:
            return
        if outcome is None:
            if error and a.first_frame is None:
                outcome, reason = PlayOutcome.FAILED, error
            elif error:
                outcome, reason = PlayOutcome.PARTIAL, error
            elif not finished:
                outcome, reason = PlayOutcome.PARTIAL, "ended early"
            elif a.entry.joined:
                outcome, reason = PlayOutcome.PARTIAL, a.entry.note
            else:
                outcome, reason = PlayOutcome.AIRED, a.entry.note
        elif a.entry.note:
            reason = f"{a.entry.note}; {reason}"
        self._record_airing(a, outcome, reason, now)

    # ------------------------------------------------------------------ records
    def _record_airing(self, a: Airing, outcome: PlayOutcome, reason: str, now: int) -> None:
        if a.corrections or a.resyncs:
            log.debug("%s: %d single-sample corrections, %d resyncs", a.entry.key,
                      a.corrections, a.resyncs)
        self._finalised(a.entry)
        self._proof.aired(a.entry, outcome, reason, a.first_frame, a.end_frame, now)

    def _record_unaired(self, entry: Entry, outcome: PlayOutcome, reason: str) -> None:
        self._finalised(entry)
        cut = entry.interrupted
        if cut is not None and cut.first_frame is not None:
            # Pre-empted and never resumed: the record still says when it was on air.
            self._proof.aired(entry, outcome, reason, cut.first_frame, cut.end_frame,
                              self._clock.monotonic_ns())
        else:
            self._proof.unaired(entry, outcome, reason)

    def _finalised(self, entry: Entry) -> None:
        if entry.from_timeline:
            self._done.add(entry.key)  # a plan update re-sending it will not re-air it

    @staticmethod
    def _close_entry_source(entry: Entry) -> None:
        if entry.source is not None:
            entry.source.close()
            entry.source = None

    # ------------------------------------------------------------------ amplifier
    def _drive_amp(self, now: int, off: int) -> None:
        want = self._airing is not None or self._urgent is not None or bool(self._queued)
        if not want and now < self._amp_hold_until:
            want = True
        if not want:
            lead = self.config.amp_lead_ms * MS
            nxt = self._next_pending(off)
            want = nxt is not None and nxt[1] - lead <= now
        if want != self.amp_on:
            self._set_amp(want)

    def _set_amp(self, on: bool, force: bool = False) -> None:
        try:
            self._relay.set(on)
        except RelayError as exc:
            self._dispatch.event("amp-relay-failed", str(exc)[:1000])
            if not force:
                return
        with self._state_lock:
            changed = self._amp_on != on
            self._amp_on = on
        if on and (changed or force):
            self._amp_since = self._clock.monotonic_ns()
        if changed:
            self._dispatch.event("amp-on" if on else "amp-off", "")

    # ------------------------------------------------------------------ status
    def _publish(self, off: int) -> None:
        a = self._airing
        snapshot = None
        if a is not None:
            snapshot = NowPlaying(a.entry.key, a.entry.content, a.entry.priority,
                                  a.entry.emergency is not None, a.entry.scheduled_ns,
                                  a.s * 1000 // RATE)
        with self._state_lock:
            self._now_playing = snapshot

    def _shutdown(self) -> None:
        now = self._clock.monotonic_ns()
        try:
            if self._airing is not None:
                self._cut(now, STOPPED_REASON, self.config.ahead_ms)
                self._end_airing(PlayOutcome.PARTIAL, STOPPED_REASON, now)
            if self._urgent is not None:
                self._queued.append(self._urgent)
                self._urgent = None
            for entry in self._queued:
                self._close_entry_source(entry)
                self._record_unaired(entry, PlayOutcome.PREEMPTED, STOPPED_REASON)
            for entry in self._pending:
                self._close_entry_source(entry)
            self._queued.clear()
            self._pending.clear()
            deadline = now + 2 * S
            while self._proof.waiting and self._sink_ok and self._clock.monotonic_ns() < deadline:
                # keep the card fed (silence) until the last frames are presented
                mono = self._clock.monotonic_ns()
                off = self._offset()
                try:
                    self._observe_sink()
                    self._render(mono, off)
                except SinkError:
                    break
                self._proof.collect(mono, off, self._sink_ok)
                self._stop.wait(0.01)
            self._proof.collect(self._clock.monotonic_ns(), self._offset(), self._sink_ok,
                                force=True)
        finally:
            self._warm.close()
            self._set_amp(False, force=True)
            with contextlib.suppress(SinkError):
                self._sink.close()
            with self._state_lock:
                self._now_playing = None
