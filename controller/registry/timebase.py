"""Time as the station services see it: an instant in UTC, and today's civil date in the
commune's time zone (validity dates of units are Vietnamese calendar dates)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from protocols.clock import Clock, SystemClock


class StationTime:
    """Reads a :class:`~protocols.clock.Clock`, so tests can move time (code expiry)."""

    def __init__(self, clock: Clock | None = None, timezone: str = "Asia/Ho_Chi_Minh") -> None:
        self.clock: Clock = clock if clock is not None else SystemClock(trust="always")
        self.zone = ZoneInfo(timezone)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.wall_ns() / 1e9, dt.UTC)

    def today(self) -> dt.date:
        return self.now().astimezone(self.zone).date()
