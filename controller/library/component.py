"""The library in the station: built with the other API services, started and stopped
with the daemon.

``library_service`` is what ``controller.daemon.compose`` registers (so every API,
the daemon's and the tests', has the library); ``LibraryComponent`` gives it a daemon
life: a sweep of what an interrupted run left at start, the import workers stopped at
the end, and a health answer for the watchdog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.events import EventBus
from controller.registry.timebase import StationTime
from controller.settings import Settings
from controller.storage.database import Database

from .service import LibraryLimits, LibraryService
from .store import ContentStore
from .uploads import UploadSpool
from .usage import PlannedSlotUsage

if TYPE_CHECKING:
    from controller.daemon import Station


def library_service(settings: Settings, db: Database, bus: EventBus,
                    time: StationTime) -> LibraryService:
    """The station's library: its store and uploads in the data directory, the
    ``[library]`` settings, and planned slots as the first "still in use" check."""
    library = settings.library
    return LibraryService(
        db, bus, time, ContentStore(settings.content_dir), library,
        UploadSpool(settings.uploads_dir, library.max_upload_bytes),
        limits=LibraryLimits(workers=library.workers, max_queued=library.max_queued),
        usage=PlannedSlotUsage(db, time.clock))


class LibraryComponent:
    name = "library"

    def __init__(self, station: Station) -> None:
        self.library = station.services.library
        station.extras["library"] = self.library

    def start(self) -> None:
        self.library.sweep()

    def stop(self) -> None:
        self.library.stop()

    def health(self) -> str | None:
        return None if self.library.healthy() else "an import worker has died"

    def status(self) -> str:
        waiting = self.library.jobs.waiting()
        return f"{waiting} import(s) waiting" if waiting else "no import waiting"

