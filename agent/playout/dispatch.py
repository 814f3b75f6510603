"""Hands play records and events from the engine thread to the integrator's callbacks.

The engine must never wait for a journal write (disk) or anything else a callback does,
so it only puts items on an unbounded queue; one daemon thread calls the callbacks in
order. A callback that raises is logged and the next item is delivered anyway.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from protocols.messages import Play

log = logging.getLogger("loaxa.playout")

PlayCallback = Callable[[Play], None]
EventCallback = Callable[[str, str], None]

_STOP = object()


class Dispatcher:
    def __init__(self, on_play: PlayCallback | None, on_event: EventCallback | None) -> None:
        self._on_play = on_play
        self._on_event = on_event
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="playout-dispatch", daemon=True)
        self._thread.start()

    def play(self, record: Play) -> None:
        self._queue.put(record)

    def event(self, code: str, detail: str = "") -> None:
        self._queue.put((code, detail))

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                if isinstance(item, Play):
                    if self._on_play is not None:
                        self._on_play(item)
                elif isinstance(item, tuple) and self._on_event is not None:
                    self._on_event(item[0], item[1])
            except Exception:
                log.exception("playout callback failed")
