"""The agent's CLI messages: every one has a Vietnamese translation, the .mo is current."""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from agent import i18n

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "agent" / "locale" / "vi" / "LC_MESSAGES" / "agent.po"


def source_messages() -> set[str]:
    return {message for _f, _l, message, _c, _ctx in extract_from_dir(
        str(ROOT / "agent"), keywords={"_": None, "N_": None},
        method_map=[("**.py", "python")]) if isinstance(message, str) and message}


def catalog() -> dict[str, str]:
    with PO.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id and isinstance(m.id, str)}


def test_every_agent_message_is_translated() -> None:
    translated = {k for k, v in catalog().items() if v}
    missing = sorted(source_messages() - translated)
    assert not missing, "agent messages without a Vietnamese translation:\n" + "\n".join(missing)
    assert len(source_messages()) >= 15  # the extraction itself works


def test_the_compiled_catalog_matches() -> None:
    with PO.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for msgid, msgstr in catalog().items():
        assert compiled.gettext(msgid) == msgstr, f"agent.mo is stale for {msgid!r}"


def test_language_rules_mirror_the_controller() -> None:
    assert i18n.detect_language({}) == "vi"
    assert i18n.detect_language({"LANG": "C.UTF-8"}) == "vi"
    assert i18n.detect_language({"LANG": "en_US.UTF-8"}) == "en"
    assert i18n.detect_language({"LANG": "en_US.UTF-8", "LOAXA_LANG": "vi"}) == "vi"
    assert i18n.detect_language({"LOAXA_LANG": "en"}) == "en"
    assert i18n.translations("vi").gettext("Cannot open the journal: {error}") == \
        "Không mở được nhật ký: {error}"
    assert i18n.translations("en").gettext("Cannot open the journal: {error}") == \
        "Cannot open the journal: {error}"
