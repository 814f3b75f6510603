"""The Báo cáo (Reports) tab."""

from __future__ import annotations

from controller.i18n import N_

from .base import Pane


class ReportsPane(Pane):
    TITLE = N_("Reports")
    KEY = "reports"
