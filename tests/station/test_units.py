"""The effective-dated unit tree: versions on rename and move, the tree on a date,
merges, and the rules that keep history consistent."""

from __future__ import annotations

import datetime as dt

import pytest

from controller.audit import AuditFilter
from controller.registry.errors import Conflict, Invalid, NotFound
from controller.storage.tables.registry import UnitLevel

from .kit import DAY, SYSTEM, Kit

LATER = DAY + dt.timedelta(days=30)


def keys(kit: Kit, on: dt.date | None = None) -> dict[str, str | None]:
    return {u.key: u.parent for u in kit.services.units.tree(SYSTEM, on)}


def test_tree_lists_parents_before_children(kit: Kit) -> None:
    tree = kit.services.units.tree(SYSTEM)
    order = [u.key for u in tree]
    assert order.index("tinh-a") < order.index("xa-a") < order.index("thon-a1")
    assert keys(kit)["thon-b1"] == "xa-b"


def test_rename_creates_a_version_and_keeps_the_old_name_for_old_dates(kit: Kit) -> None:
    units = kit.services.units
    units.change(SYSTEM, "thon-a1", name="Thôn Mới", valid_from=LATER)
    assert units.get(SYSTEM, "thon-a1", DAY).name == "Thôn a1"
    assert units.get(SYSTEM, "thon-a1", LATER).name == "Thôn Mới"
    history = units.history(SYSTEM, "thon-a1")
    assert [(v.valid_from, v.valid_to) for v in history] == [(DAY, LATER), (LATER, None)]


def test_move_changes_the_parent_from_its_date(kit: Kit) -> None:
    kit.services.units.change(SYSTEM, "thon-a2", parent="xa-b", valid_from=LATER)
    assert keys(kit, DAY)["thon-a2"] == "xa-a"
    assert keys(kit, LATER)["thon-a2"] == "xa-b"


def test_changes_cannot_rewrite_the_past(kit: Kit) -> None:
    units = kit.services.units
    units.change(SYSTEM, "thon-a1", name="B", valid_from=LATER)
    with pytest.raises(Conflict):
        units.change(SYSTEM, "thon-a1", name="C", valid_from=LATER - dt.timedelta(days=1))
    units.change(SYSTEM, "thon-a1", name="Corrected", valid_from=LATER)  # same day: fixes
    assert [v.name for v in units.history(SYSTEM, "thon-a1")] == ["Thôn a1", "Corrected"]


@pytest.mark.parametrize(("key", "level", "parent"), [
    ("v-x", UnitLevel.VILLAGE, "tinh-a"),  # a village directly under a province
    ("p-x", UnitLevel.PROVINCE, "xa-a"),
    ("d-x", UnitLevel.DISTRICT, None),
])
def test_levels_must_fit(kit: Kit, key: str, level: UnitLevel, parent: str | None) -> None:
    with pytest.raises(Invalid):
        kit.services.units.create(SYSTEM, key, level, "X", parent=parent, valid_from=DAY)


def test_no_cycles_and_no_duplicate_keys(kit: Kit) -> None:
    units = kit.services.units
    units.create(SYSTEM, "tinh-b", UnitLevel.PROVINCE, "Tỉnh B", valid_from=DAY)
    with pytest.raises(Conflict):
        units.create(SYSTEM, "xa-a", UnitLevel.COMMUNE, "again", parent="tinh-b")
    with pytest.raises(Invalid):
        units.create(SYSTEM, "Bad Key", UnitLevel.COMMUNE, "x", parent="tinh-b")
    with pytest.raises(NotFound):
        units.change(SYSTEM, "nowhere", name="x")


def test_merge_moves_villages_and_ends_the_source(kit: Kit) -> None:
    merged = kit.services.units.merge(SYSTEM, ["xa-b"], "xa-a", LATER)
    assert merged.key == "xa-a"
    before, after = keys(kit, DAY), keys(kit, LATER)
    assert before["thon-b1"] == "xa-b" and "xa-b" in before
    assert after["thon-b1"] == "xa-a" and "xa-b" not in after
    assert kit.services.units.get(SYSTEM, "xa-b").merged_into == "xa-a"
    with pytest.raises(Conflict):  # a merged commune takes no new villages
        kit.services.units.create(SYSTEM, "thon-b9", UnitLevel.VILLAGE, "x", parent="xa-b",
                                  valid_from=LATER)


def test_merge_only_merges_communes(kit: Kit) -> None:
    with pytest.raises(Invalid):
        kit.services.units.merge(SYSTEM, ["thon-a1"], "xa-a", LATER)
    with pytest.raises(Invalid):
        kit.services.units.merge(SYSTEM, ["xa-a"], "xa-a", LATER)


def test_every_change_is_audited_in_its_transaction(kit: Kit) -> None:
    kit.services.units.change(SYSTEM, "thon-a1", name="X", valid_from=LATER)
    with pytest.raises(Conflict):  # rolled back: no entry either
        kit.services.units.change(SYSTEM, "thon-a1", name="Y", valid_from=DAY)
    page = kit.services.audit.query(SYSTEM, AuditFilter(action="unit.change"))
    actions = [e.action for e in page.entries]
    assert actions.count("unit.change") == 1
