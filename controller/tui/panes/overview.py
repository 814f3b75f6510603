"""The Tổng quan (Overview) tab."""

from __future__ import annotations

from controller.i18n import N_

from .base import Pane


class OverviewPane(Pane):
    TITLE = N_("Overview")
    KEY = "overview"
