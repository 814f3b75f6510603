"""Every user-facing message has a Vietnamese translation, and the compiled catalogs match."""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from controller import i18n

ROOT = Path(__file__).resolve().parents[1]
VI = ROOT / "controller" / "locale" / "vi" / "LC_MESSAGES"


def source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / "controller"), keywords={"_": None, "N_": None},
            method_map=[("**.py", "python")]):
        if isinstance(message, str) and message:
            found.add(message)
    return found


def po_catalogs() -> dict[Path, dict[str, str]]:
    catalogs = {}
    for po in sorted(VI.glob("*.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle)
        catalogs[po] = {m.id: m.string for m in catalog if m.id and isinstance(m.id, str)}
    return catalogs


def test_every_message_has_a_vietnamese_translation() -> None:
    translated = {}
    for catalog in po_catalogs().values():
        translated.update({k: v for k, v in catalog.items() if v})
    missing = sorted(source_messages() - set(translated))
    assert not missing, "messages without a Vietnamese translation:\n" + "\n".join(missing)


def test_no_message_is_translated_twice() -> None:
    seen: dict[str, Path] = {}
    for po, catalog in po_catalogs().items():
        for msgid in catalog:
            assert msgid not in seen, f"{msgid!r} in both {seen[msgid].name} and {po.name}"
            seen[msgid] = po


def test_compiled_catalogs_match_their_sources() -> None:
    for po, catalog in po_catalogs().items():
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo.name} missing: run deploy/dev/i18n.sh compile"
        with mo.open("rb") as handle:
            compiled = gettext.GNUTranslations(handle)
        for msgid, msgstr in catalog.items():
            if msgstr:
                assert compiled.gettext(msgid) == msgstr, \
                    f"{mo.name} is stale for {msgid!r}: run deploy/dev/i18n.sh compile"


def test_language_detection_defaults_to_vietnamese() -> None:
    assert i18n.detect_language({}) == "vi"
    assert i18n.detect_language({"LANG": "C.UTF-8"}) == "vi"
    assert i18n.detect_language({"LANG": "en_US.UTF-8"}) == "en"
    assert i18n.detect_language({"LANG": "en_US.UTF-8", "LOAXA_LANG": "vi"}) == "vi"


def test_translation_switches_with_the_language() -> None:
    message = "Unexpected error: {error}"
    try:
        i18n.set_language("vi")
        assert i18n._(message) == "Lỗi không mong đợi: {error}"
        i18n.set_language("en")
        assert i18n._(message) == message
    finally:
        i18n.set_language(None)
