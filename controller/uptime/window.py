"""The service window: the part of each local day in which availability counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

NS = 1_000_000_000


@dataclass(frozen=True)
class ServiceWindow:
    """Daily ``[start, end)`` in local time, e.g. 04:30-21:30 in Asia/Ho_Chi_Minh."""

    start: dt.time
    end: dt.time
    tz: str = "Asia/Ho_Chi_Minh"

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("the service window must end after it starts on the same day")

    @property
    def key(self) -> str:
        """Names the window in rollups, so a changed definition is never mixed up."""
        return f"{self.start:%H%M}-{self.end:%H%M}@{self.tz}"

    def on(self, day: dt.date) -> tuple[int, int]:
        zone = ZoneInfo(self.tz)
        start = dt.datetime.combine(day, self.start, zone)
        end = dt.datetime.combine(day, self.end, zone)
        return int(start.timestamp()) * NS, int(end.timestamp()) * NS

    def local_day(self, wall_ns: int) -> dt.date:
        return dt.datetime.fromtimestamp(wall_ns / NS, ZoneInfo(self.tz)).date()

    def days_between(self, start_ns: int, end_ns: int) -> Iterator[dt.date]:
        """Every local day that ``[start_ns, end_ns)`` touches."""
        day = self.local_day(start_ns)
        last = self.local_day(max(start_ns, end_ns - 1))
        while day <= last:
            yield day
            day += dt.timedelta(days=1)

    def overlap_ns(self, day: dt.date, start_ns: int, end_ns: int) -> int:
        window_start, window_end = self.on(day)
        return max(0, min(end_ns, window_end) - max(start_ns, window_start))


DEFAULT_WINDOW = ServiceWindow(dt.time(4, 30), dt.time(21, 30))
