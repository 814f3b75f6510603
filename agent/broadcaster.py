"""Everything that makes this cluster's loudspeakers talk, behind the service's
``Playout`` seam: the content cache, the fetcher that fills it from the controller, and
the playout engine that airs the plan from it.

Documents drive it all (there is no prefetch command): the plan gives the timeline, the
routine beyond its horizon and the pins; the emergency document starts and stops an
emergency on this village; the config document sets the volume. Whatever they name is
fetched soonest-airing first, and what is on air comes only from the local cache, so a
dead link never means silence.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import msgspec

from protocols.clock import Clock
from protocols.messages import AgentConfig, CacheState, Emergency, Evidence, Plan, Play
from schedules import expand_routine

from .cache import Cache
from .config import AgentSettings
from .fetcher import Fetcher, needed_from_documents
from .identity import load_or_create_identity
from .playout import EmergencyRequest, EngineConfig, PlayoutEngine, ScheduledSlot
from .playout.pcm import RATE
from .playout.relay.base import AmplifierRelay, RelayError
from .playout.relay.fake import FakeRelay
from .playout.sinks import ClockedFakeSink, NullSink, Sink, SoundDeviceSink
from .playout.sinks.base import SinkError
from .playout_api import EventCallback, PlayCallback

log = logging.getLogger("loaxa.agent.broadcast")

MB = 1024 * 1024
DAY_NS = 86_400 * 10**9
# How far past the plan's horizon the standing routine is extrapolated at a time (it is
# re-extended by ``refresh()`` while the agent stays cut off).
EXTRAPOLATE_NS = 2 * DAY_NS


def make_sink(settings: AgentSettings, clock: Clock) -> Sink:
    audio = settings.audio
    if audio.sink == "alsa":
        return SoundDeviceSink(clock, device=audio.device)
    if audio.sink == "fake":
        return ClockedFakeSink(clock, record=audio.record_dir is not None)
    return NullSink(clock)


def make_relay(settings: AgentSettings, clock: Clock) -> AmplifierRelay:
    amp = settings.amplifier
    try:
        if amp.driver == "gpiod":
            from .playout.relay.gpio import GpiodRelay

            return GpiodRelay(amp.chip, amp.line, active_high=amp.active_high)
        if amp.driver == "gpiozero":
            from .playout.relay.gpio import GpioZeroRelay

            return GpioZeroRelay(amp.line, active_high=amp.active_high)
    except RelayError as exc:
        # No amplifier control is better than no sound: the amplifier may be wired on.
        log.error("amplifier relay unavailable (%s): airing without switching it", exc)
    return FakeRelay(clock)


def timeline(plan: Plan, now_ns: int) -> list[ScheduledSlot]:
    """The plan's resolved slots, then the standing routine extrapolated past its horizon
    when the agent has run (cut off) that far."""
    slots = [ScheduledSlot(slot, village_peers=slot.village_peers) for slot in plan.slots]
    if plan.routine and now_ns + DAY_NS > plan.horizon_end_ns:
        last_end = max((s.start_ns + s.duration_ms * 10**6 for s in plan.slots),
                       default=plan.horizon_end_ns)
        start = max(plan.horizon_end_ns, last_end)
        for resolved in expand_routine(plan.routine, plan.tz, start,
                                       max(start, now_ns) + EXTRAPOLATE_NS):
            slots.append(ScheduledSlot(resolved.to_plan_slot(), extrapolated=True))
    return slots


class Recording(msgspec.Struct, array_like=True, frozen=True):
    """What a stand-in sound card presented during one run of the agent.

    Each segment is ``(monotonic ns of its first frame, s16 mono 48 kHz audio)``; frames
    follow each other every ``ns_per_frame`` (the card's own crystal). Times are on the
    machine's monotonic clock (``CLOCK_BOOTTIME``), not the agent's idea of wall time,
    so a test on the same machine reads the truth whatever the agent's clock believed.
    """

    pid: int
    ns_per_frame: float
    segments: list[tuple[int, bytes]]


def export_recording(sink: ClockedFakeSink, folder: Path) -> Path | None:
    """Write ``sink``'s recording as ``fake-sink-<pid>.msgpack`` (best effort)."""
    try:
        segments = [(sink.device_time_ns(d), audio) for d, audio in sink.segments()]
        step = float(sink.device_time_ns(RATE) - sink.device_time_ns(0)) / RATE
    except SinkError:  # never opened: nothing was presented
        segments, step = [], 1e9 / RATE
    path = folder / f"fake-sink-{os.getpid()}.msgpack"
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(msgspec.msgpack.encode(Recording(os.getpid(), step, segments)))
        tmp.replace(path)
    except OSError as exc:
        log.error("cannot write the fake sink's recording to %s: %s", path, exc)
        return None
    return path


class Broadcaster:
    """Implements ``agent.playout_api.Playout`` with the real engine, cache and fetcher."""

    def __init__(self, settings: AgentSettings, clock: Clock, *, boot: int,
                 done_slots: frozenset[str] = frozenset(), sink: Sink | None = None,
                 relay: AmplifierRelay | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self._done = done_slots
        data = settings.data_dir
        self.cache = Cache(data / "cache", settings.cache.quota_mb * MB, clock=clock,
                           min_free_bytes=settings.cache.min_free_mb * MB)
        plane = settings.data_plane
        self.fetcher: Fetcher | None = None
        if plane.endpoint is not None and plane.server_key is not None:
            from .config import check_z85_key
            from .enroll import KEY_FILE

            self.fetcher = Fetcher(plane.endpoint, check_z85_key("data_plane.server_key",
                                                                 plane.server_key),
                                   load_or_create_identity(data / KEY_FILE), self.cache,
                                   clock=clock)
        self._sink = sink or make_sink(settings, clock)
        audio, amp = settings.audio, settings.amplifier
        self.engine = PlayoutEngine(
            clock, self._sink, relay or make_relay(settings, clock),
            content_path=self._content_path, on_play=self._played, on_event=self._event,
            config=EngineConfig(volume=audio.volume, emergency_volume=audio.emergency_volume,
                                amp_lead_ms=amp.lead_ms, amp_tail_ms=amp.tail_ms,
                                grace_s=audio.grace_s, boot=boot))
        self._plan: Plan | None = None
        self._emergency: Emergency | None = None
        self._on_play: PlayCallback | None = None
        self._on_event: EventCallback | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, on_play: PlayCallback, on_event: EventCallback) -> None:
        self._on_play, self._on_event = on_play, on_event
        self.engine.start()
        if self.fetcher is not None:
            self.fetcher.start()

    def close(self) -> None:
        if self.fetcher is not None:
            self.fetcher.stop()
        self.engine.close()
        self._export_recording()

    def _played(self, play: Play) -> None:
        # The dispatch thread: never the engine's, so the file write cannot delay audio.
        if self._on_play is not None:
            self._on_play(play)
        self._export_recording()

    def _export_recording(self) -> None:
        """``[audio] record_dir`` (tests): the stand-in card's recording, after each play
        record and at stop, so a test can read it while the agent runs."""
        record_dir = self.settings.audio.record_dir
        if record_dir is not None and isinstance(self._sink, ClockedFakeSink):
            export_recording(self._sink, self.settings.path(record_dir))

    def _event(self, code: str, detail: str) -> None:
        if self._on_event is not None:
            self._on_event(code, detail)

    # ------------------------------------------------------------------ documents
    def apply_document(self, kind: str, document: Any) -> None:
        if isinstance(document, Plan):
            self._plan = document
            self.engine.set_timeline(timeline(document, self.clock.wall_ns()),
                                     done=self._done)
        elif isinstance(document, Emergency):
            self._apply_emergency(document)
        elif isinstance(document, AgentConfig):
            self.engine.volume = document.volume
        self._want()

    def _apply_emergency(self, document: Emergency) -> None:
        mine = not document.villages or self.settings.agent.village in document.villages
        if document.active and mine and document.content is not None:
            self.engine.play_now(EmergencyRequest(
                document.emergency_id, document.content, document.repeat_every_s,
                document.volume, document.attention_tone, document.started_ns))
        else:
            self.engine.stop_emergency(document.emergency_id)
        self._emergency = document if document.active else None

    def refresh(self) -> None:
        if self._plan is not None and self.clock.wall_ns() + DAY_NS > self._plan.horizon_end_ns:
            self.engine.set_timeline(timeline(self._plan, self.clock.wall_ns()),
                                     done=self._done)
        self._want()

    def _want(self) -> None:
        needed = needed_from_documents(self._plan, self._emergency, self.clock.wall_ns())
        self.cache.set_needed(needed)
        if self.fetcher is not None:
            self.fetcher.want(needed)
        # What an emergency may air, kept ready to be heard at once: the pins (the
        # commune's standard warnings). Not an active emergency's own item: decoding it
        # again would compete with its start, and its repeats are pre-rolled anyway.
        self.engine.keep_ready(list(self._plan.pins) if self._plan else [])

    def _content_path(self, sha: bytes) -> Path:
        found = self.cache.path(sha, verify=True)
        # A missing or corrupt item: the engine records the slot FAILED and carries on.
        return found if found is not None else self.cache.root / "missing" / sha.hex()

    # ------------------------------------------------------------------ status
    def progress_marker(self) -> int:
        return self.engine.progress_marker()

    def now_playing(self) -> str | None:
        playing = self.engine.now_playing()
        return playing.slot_id if playing is not None else None

    @property
    def volume(self) -> int:
        return self.engine.volume

    @property
    def amp_on(self) -> bool:
        return self.engine.amp_on

    @property
    def sink(self) -> str:
        return self._sink.name

    def evidence(self) -> Evidence:
        """SINK while a real sound device takes samples; PROCESS otherwise (DESIGN §4)."""
        return Evidence.SINK if self._sink.real and self.engine.sink_ok else Evidence.PROCESS

    def set_volume(self, level: int) -> None:
        self.engine.volume = level

    def stop(self) -> None:
        self.engine.stop()

    def cache_state(self) -> CacheState:
        return self.cache.state()
