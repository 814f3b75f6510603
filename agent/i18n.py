"""The agent's few technician-facing CLI messages: Vietnamese by default, English on request.

Same rules as ``controller.i18n`` (which the agent must not import): ``LOAXA_LANG``
(``vi``/``en``) first, then ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` (English
when they ask for it), Vietnamese otherwise. Catalog: ``locale/vi/LC_MESSAGES/agent.po``,
compiled by ``deploy/dev/i18n.sh compile``.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")


def detect_language(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    explicit = env.get("LOAXA_LANG", "").strip().lower()[:2]
    if explicit in ("vi", "en"):
        return explicit
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(variable, "")
        if value:
            return "en" if value.lower().startswith("en") else "vi"
    return "vi"


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation("agent", LOCALE_DIR, [language], fallback=True)


def _(message: str) -> str:
    """Translate now, into the language the environment asks for."""
    return translations(detect_language()).gettext(message)


def N_(message: str) -> str:
    """Mark for extraction only; translate later with ``_()`` (e.g. module constants)."""
    return message
