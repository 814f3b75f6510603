"""Which language the console speaks. The first of these that names one wins:

1. ``loaxa tui --lang vi|en``, then ``LOAXA_LANG``: asked for by whoever started it;
2. the user's own preference, stored at the station (``language`` in ``/v1/me``; set with
   ``loaxa users update NAME --language en``), known once the console has logged in;
3. the station's setting, ``[station] language`` in the settings file;
4. the locale variables (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``): English when
   they ask for it;
5. Vietnamese.

The locale comes after the stored preference and the station's setting on purpose: it is
the machine's ambient default (many server images ship ``en_US.UTF-8``, and SSH forwards
the laptop's), not a choice made for loaxa, so it must not override one that was.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from controller.i18n import LANGUAGES, detect_language


def known(value: str | None) -> str | None:
    """``value`` when it names a language the console speaks (``en_US`` counts as en)."""
    tag = (value or "").strip().lower()[:2]
    return tag if tag in LANGUAGES else None


@dataclass(frozen=True)
class LanguageChoice:
    """What is known before logging in; :meth:`choose` adds the user's preference.
    ``locale`` is what the locale variables say (Vietnamese when they say nothing)."""

    explicit: str | None = None
    station: str | None = None
    locale: str = "vi"

    @classmethod
    def gather(cls, flag: str | None = None, station: str | None = None,
               environ: Mapping[str, str] | None = None) -> LanguageChoice:
        env = os.environ if environ is None else environ
        return cls(explicit=known(flag) or known(env.get("LOAXA_LANG")),
                   station=known(station),
                   locale=detect_language({k: v for k, v in env.items()
                                           if k != "LOAXA_LANG"}))

    def choose(self, user: str | None = None) -> str:
        return self.explicit or known(user) or self.station or self.locale
