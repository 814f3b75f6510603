"""The console's tabs, in the order of their keys (1–6)."""

from .base import Pane
from .devices import DevicesPane
from .emergency import EmergencyPane
from .library import LibraryPane
from .overview import OverviewPane
from .reports import ReportsPane
from .schedule import SchedulePane

PANES: tuple[type[Pane], ...] = (OverviewPane, LibraryPane, SchedulePane, EmergencyPane,
                                 ReportsPane, DevicesPane)

__all__ = ["PANES", "Pane"]
