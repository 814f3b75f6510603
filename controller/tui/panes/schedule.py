"""The Lịch phát (Schedule) tab."""

from __future__ import annotations

from controller.i18n import N_

from .base import Pane


class SchedulePane(Pane):
    TITLE = N_("Schedule")
    KEY = "schedule"
