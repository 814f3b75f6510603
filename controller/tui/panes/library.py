"""The Thư viện (Library) tab."""

from __future__ import annotations

from controller.i18n import N_

from .base import Pane


class LibraryPane(Pane):
    TITLE = N_("Library")
    KEY = "library"
