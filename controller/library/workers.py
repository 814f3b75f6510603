"""The import workers: a few threads that run imports off the request thread.

ffmpeg is the work (in subprocesses), so threads suffice. By default there is one: a
station is a 2-core box that also serves agents and the API, and two imports at once
would only make both slower. Threads start with the first task (a station that never
imports runs none) and are daemon threads: a stop does not wait for an import of a
three-hour recording to finish; the pipeline writes the store atomically, so an import
cut short leaves nothing behind but a staging file, swept at the next start.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Protocol

log = logging.getLogger("loaxa.library")


class Task(Protocol):
    def run(self) -> None:
        """Do the work; report failures through the job, never raise."""
        ...

    def cancel(self) -> None:
        """The workers stopped before running it: release what it holds."""
        ...


class ImportWorkers:
    def __init__(self, count: int = 1) -> None:
        self.count = max(1, count)
        self._queue: queue.Queue[Task | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = False

    def submit(self, task: Task) -> None:
        with self._lock:
            if self._stopping:
                raise RuntimeError("the import workers are stopping")
            if not self._threads:
                for number in range(self.count):
                    thread = threading.Thread(target=self._run, daemon=True,
                                              name=f"library-import-{number + 1}")
                    thread.start()
                    self._threads.append(thread)
        self._queue.put(task)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop taking tasks; cancel the ones that never started."""
        with self._lock:
            self._stopping = True
            threads, self._threads = self._threads, []
        pending: list[Task] = []
        while True:
            try:
                task = self._queue.get_nowait()
            except queue.Empty:
                break
            if task is not None:
                pending.append(task)
        for task in pending:
            try:
                task.cancel()
            except Exception:
                log.exception("cancelling an import failed")
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join(timeout_s / max(1, len(threads)))

    def alive(self) -> bool:
        """False when a started worker died (a bug: tasks would wait forever)."""
        with self._lock:
            return all(thread.is_alive() for thread in self._threads)

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            try:
                task.run()
            except Exception:  # the task reports its own failures; this is a bug
                log.exception("an import task failed unexpectedly")
