"""Every message kind on the wire has a golden case: a new kind without one fails here.

A *kind* is a tagged msgspec struct (its tag is its schema version, or its name inside a
union such as a command's ``Action``). Each module under ``protocols/`` that defines one
is a message family with its own table of golden cases; every tagged struct the module
defines must occur somewhere inside that table's samples.
"""

from __future__ import annotations

import importlib
import pkgutil
import typing
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

import msgspec

import protocols
from protocols.messages import Action, JournalRecord
from tests.clocksync import golden_cases as clocksync_cases
from tests.collector import golden_cases as collector_cases
from tests.content import golden_cases as content_cases

from . import golden_cases as protocol_cases

Cases = Mapping[str, tuple[Any, Any]]

# Module -> the table that holds its golden cases.
FAMILIES: dict[str, Callable[[], Cases]] = {
    "protocols.messages": protocol_cases.cases,
    "protocols.envelope": protocol_cases.cases,
    "protocols.enrolment": protocol_cases.cases,
    "protocols.content": content_cases.cases,
    "protocols.clock_exchange": clocksync_cases.cases,
    "protocols.collect": collector_cases.cases,
}


def is_kind(obj: object) -> bool:
    return isinstance(obj, type) and issubclass(obj, msgspec.Struct) \
        and obj.__struct_config__.tag is not None


def kinds_defined_in(module: ModuleType) -> set[type]:
    return {obj for obj in vars(module).values()
            if is_kind(obj) and obj.__module__ == module.__name__}


def kinds_in_cases(cases: Cases) -> set[type]:
    """Every struct type occurring anywhere inside the samples (sealed bytes decoded)."""
    found: set[type] = set()
    stack: list[Any] = []
    for value, type_ in cases.values():
        stack.append(msgspec.msgpack.decode(value, type=type_) if isinstance(value, bytes)
                     else value)
    while stack:
        value = stack.pop()
        if isinstance(value, msgspec.Struct):
            found.add(type(value))
            stack.extend(getattr(value, name) for name in value.__struct_fields__)
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
    return found


def missing_kinds(kinds: Iterable[type], cases: Cases) -> list[str]:
    present = kinds_in_cases(cases)
    return sorted(f"{k.__module__}.{k.__qualname__}" for k in kinds if k not in present)


def families_without_cases(families: Iterable[str]) -> list[str]:
    """Modules under ``protocols/`` that define message kinds but have no golden table."""
    known = set(families)
    found = []
    for info in pkgutil.iter_modules(protocols.__path__, "protocols."):
        module = importlib.import_module(info.name)
        if kinds_defined_in(module) and info.name not in known:
            found.append(info.name)
    return sorted(found)


def test_every_message_family_has_a_golden_table() -> None:
    untracked = families_without_cases(FAMILIES)
    assert not untracked, f"message families with no golden cases: {untracked}"


def test_every_message_kind_has_a_golden_case() -> None:
    missing = [name for module, table in FAMILIES.items()
               for name in missing_kinds(kinds_defined_in(importlib.import_module(module)),
                                         table())]
    assert not missing, f"message kinds with no golden case: {missing}"


def test_every_command_action_and_journal_record_has_a_golden_case() -> None:
    unions = [*typing.get_args(Action), *typing.get_args(JournalRecord)]
    assert len(unions) >= 11  # the unions really were unpacked
    missing = missing_kinds(unions, protocol_cases.cases())
    assert not missing, f"union members with no golden case: {missing}"


# ------------------------------------------------------------------ positive controls


def test_a_kind_without_a_golden_case_is_named() -> None:
    from protocols.messages import RestartService

    table = {k: v for k, v in protocol_cases.cases().items() if k != "cmd-restart"}
    assert missing_kinds(typing.get_args(Action), table) == [
        "protocols.messages.RestartService"]
    messages = importlib.import_module("protocols.messages")
    assert RestartService in kinds_defined_in(messages)
    assert missing_kinds(kinds_defined_in(messages), table) == [
        "protocols.messages.RestartService"]


def test_a_kind_only_inside_a_sealed_envelope_is_still_seen() -> None:
    """Envelopes are stored as bytes; they are decoded before being searched."""
    from protocols.envelope import Envelope

    table = {k: v for k, v in protocol_cases.cases().items() if k.startswith("envelope-")}
    assert Envelope in kinds_in_cases(table)
    assert missing_kinds([Envelope], {"ack": protocol_cases.cases()["ack"]}) == [
        "protocols.envelope.Envelope"]


def test_a_family_without_a_golden_table_is_named() -> None:
    families = [m for m in FAMILIES if m != "protocols.clock_exchange"]
    assert families_without_cases(families) == ["protocols.clock_exchange"]
