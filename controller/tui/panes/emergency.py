"""The Phát khẩn cấp (Emergency) tab."""

from __future__ import annotations

from controller.i18n import N_

from .base import Pane


class EmergencyPane(Pane):
    TITLE = N_("Emergency broadcast")
    KEY = "emergency"
