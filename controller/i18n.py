"""The message catalog: Vietnamese by default, English on request.

Source strings are English; Vietnamese lives in ``locale/vi/LC_MESSAGES/<area>.po``
(compiled to ``.mo`` next to it by ``deploy/dev/i18n.sh``). Each area of the controller
has its own catalog file, chained together at load time, so work on one screen or
command never collides with another's translations.

The language comes from ``LOAXA_LANG`` (``vi``/``en``), then the locale variables
(``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``: English when they ask for it),
and is Vietnamese otherwise.
"""

from __future__ import annotations

import gettext
import os
import threading
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("vi", "en")
_lock = threading.Lock()
_override: str | None = None
_cache: dict[str, gettext.NullTranslations] = {}


def detect_language(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    explicit = env.get("LOAXA_LANG", "").strip().lower()[:2]
    if explicit in LANGUAGES:
        return explicit
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(variable, "")
        if value:
            return "en" if value.lower().startswith("en") else "vi"
    return "vi"


def set_language(language: str | None) -> None:
    """Force a language for this process (a setting); ``None`` goes back to detection."""
    global _override
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; choose one of {LANGUAGES}")
    _override = language


def current_language() -> str:
    return _override or detect_language()


def translations(language: str | None = None) -> gettext.NullTranslations:
    language = language or current_language()
    with _lock:
        cached = _cache.get(language)
        if cached is not None:
            return cached
        chain: gettext.NullTranslations = gettext.NullTranslations()
        folder = LOCALE_DIR / language / "LC_MESSAGES"
        for mo in sorted(folder.glob("*.mo")) if language != "en" else []:
            with mo.open("rb") as handle:
                catalog = gettext.GNUTranslations(handle)
            catalog.add_fallback(chain)
            chain = catalog
        _cache[language] = chain
        return chain


def _(message: str) -> str:
    """Translate now, into the current language."""
    return translations().gettext(message)


def N_(message: str) -> str:
    """Mark for extraction only; translate later with ``_()`` (e.g. module constants)."""
    return message


def reset_cache() -> None:
    with _lock:
        _cache.clear()
