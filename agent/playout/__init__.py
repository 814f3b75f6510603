"""The agent's playout engine: airs each slot from the cache on time, in sync, drift-corrected.

For the integrator::

    engine = PlayoutEngine(clock, sink, relay, cache_dir=cache,
                           on_play=journal.append_play,      # protocols.messages.Play
                           on_event=journal.append_event,    # (code, detail)
                           config=EngineConfig(amp_lead_ms=cfg.amp_lead_ms, ...))
    engine.start()                       # relay off, sink opened, thread running
    engine.set_timeline([ScheduledSlot(plan_slot, village_peers=n), ...], done=aired_ids)
    engine.keep_ready(plan.pins)         # their start decoded in memory: heard at once
    engine.play_now(EmergencyRequest(emergency_id, content, repeat_every_s=..., ...))
    engine.stop_emergency(emergency_id); engine.stop(); engine.volume = 70
    engine.progress_marker(); engine.now_playing(); engine.amp_on; engine.drift_ppm
    engine.close()

Callbacks run on a dispatcher thread, never the engine's. Sinks: ``sinks.SoundDeviceSink``
(ALSA via PortAudio), ``sinks.NullSink``, ``sinks.ClockedFakeSink`` (tests, benchmarks).
Relays: ``relay.GpiodRelay``, ``relay.GpioZeroRelay``, ``relay.FakeRelay``.
"""

from __future__ import annotations

from .config import EngineConfig, NowPlaying
from .decoder import DecodeError, PcmStream
from .engine import STOPPED_REASON, PlayoutEngine
from .slots import EmergencyRequest, ScheduledSlot

__all__ = ["STOPPED_REASON", "DecodeError", "EmergencyRequest", "EngineConfig", "NowPlaying",
           "PcmStream", "PlayoutEngine", "ScheduledSlot"]
