"""What the service needs from the playout engine, and a stand-in until it is plugged in.

The engine (``agent/playout/``) is built separately; the service only talks to it
through this protocol, so either can change without the other. The contract:

* ``start(on_play, on_event)``: begin; the engine reports proof of play (``Play``
  records) and notable events ``(code, detail)`` through the callbacks, from any thread.
  The service journals them in its main loop, so a slow SD card never stalls audio.
* ``progress_marker()``: a value that changes whenever the engine's loop turns. The
  watchdog is fed only while it keeps changing, so a wedged engine gets the agent
  restarted (an idle engine must still turn its loop).
* ``evidence()``: the strongest evidence the audio path currently shows (DESIGN §4);
  availability intervals carry it.
* status for heartbeats (``now_playing``, ``volume``, ``amp_on``, ``sink``) and the
  commands and documents the controller sends (``set_volume``, ``stop``,
  ``apply_document``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from protocols.messages import CacheState, Evidence, Play

PlayCallback = Callable[[Play], None]
EventCallback = Callable[[str, str], None]


@runtime_checkable
class Playout(Protocol):
    def start(self, on_play: PlayCallback, on_event: EventCallback) -> None: ...

    def close(self) -> None: ...

    def progress_marker(self) -> int: ...

    def now_playing(self) -> str | None: ...

    @property
    def volume(self) -> int: ...

    @property
    def amp_on(self) -> bool: ...

    @property
    def sink(self) -> str: ...

    def evidence(self) -> Evidence: ...

    def set_volume(self, level: int) -> None: ...

    def stop(self) -> None: ...

    def apply_document(self, kind: str, document: Any) -> None: ...

    def refresh(self) -> None:
        """Called every few minutes: re-derive anything that depends on the time of day
        (an agent past its plan's horizon extrapolates its routine further)."""

    def cache_state(self) -> CacheState: ...


class NullPlayout:
    """No audio: the agent is up (evidence level 0) and remembers its volume."""

    def __init__(self, volume: int = 80) -> None:
        self._volume = volume
        self._turns = itertools.count()
        self.documents: dict[str, Any] = {}
        self.stops = 0

    def start(self, on_play: PlayCallback, on_event: EventCallback) -> None:
        pass

    def close(self) -> None:
        pass

    def progress_marker(self) -> int:
        return next(self._turns)

    def now_playing(self) -> str | None:
        return None

    @property
    def volume(self) -> int:
        return self._volume

    @property
    def amp_on(self) -> bool:
        return False

    @property
    def sink(self) -> str:
        return "none"

    def evidence(self) -> Evidence:
        return Evidence.PROCESS

    def set_volume(self, level: int) -> None:
        self._volume = max(0, min(100, int(level)))

    def stop(self) -> None:
        self.stops += 1

    def apply_document(self, kind: str, document: Any) -> None:
        self.documents[kind] = document

    def refresh(self) -> None:
        pass

    def cache_state(self) -> CacheState:
        return CacheState(0, 0, 0, 0)
