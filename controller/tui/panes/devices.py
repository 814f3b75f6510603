"""The Thiết bị (Devices) tab."""

from __future__ import annotations

from controller.i18n import N_

from .base import Pane


class DevicesPane(Pane):
    TITLE = N_("Devices")
    KEY = "devices"
