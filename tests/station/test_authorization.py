"""Roles cover the unit they are granted on and everything below; other communes' data
is refused; grants are read fresh so a revoked role stops working at once."""

from __future__ import annotations

import datetime as dt

import pytest

from controller.registry.errors import Forbidden, NotFound
from controller.storage.tables.registry import StationKind, UnitLevel
from controller.storage.tables.security import Role

from .kit import DAY, SYSTEM, Kit


def test_a_commune_role_sees_only_its_commune(kit: Kit) -> None:
    viewer = kit.who("viewer-a")
    assert {s.commune for s in kit.services.stations.list_stations(viewer)} == {"xa-a"}
    assert {u.key for u in kit.services.units.tree(viewer)} == {"xa-a", "thon-a1", "thon-a2"}
    with pytest.raises(Forbidden):
        kit.services.stations.list_stations(viewer, "xa-b")


def test_a_province_role_covers_its_communes(kit: Kit) -> None:
    prov = kit.who("prov")
    assert {s.commune for s in kit.services.stations.list_stations(prov)} == {"xa-a", "xa-b"}


def test_viewer_cannot_change_and_technician_can(kit: Kit) -> None:
    with pytest.raises(Forbidden):
        kit.services.stations.create_station(kit.who("viewer-a"), "xa-a", "st-2", "x",
                                             StationKind.FM)
    made = kit.services.stations.create_station(kit.who("tech-a"), "xa-a", "st-2", "x",
                                                StationKind.FM)
    assert made.kind is StationKind.FM


def test_another_communes_objects_are_not_even_confirmed(kit: Kit) -> None:
    agent = kit.services.agents.create(SYSTEM, "xa-b", "ag-b1", cluster="c-thon-b1")
    with pytest.raises(NotFound):
        kit.services.agents.get(kit.who("tech-a"), agent.id)
    with pytest.raises(NotFound):
        kit.services.revoker.revoke(kit.who("tech-a"), agent.id)


def test_technician_cannot_manage_units_or_users(kit: Kit) -> None:
    tech = kit.who("tech-a")
    with pytest.raises(Forbidden):
        kit.services.units.create(tech, "thon-a9", UnitLevel.VILLAGE, "x", parent="xa-a")
    with pytest.raises(Forbidden):
        kit.services.users.create(tech, "someone")


def test_commune_admin_cannot_reach_above_its_commune(kit: Kit) -> None:
    admin_a = kit.who("admin-a")
    kit.services.units.create(admin_a, "thon-a9", UnitLevel.VILLAGE, "x", parent="xa-a")
    with pytest.raises(Forbidden):
        kit.services.units.create(admin_a, "xa-c", UnitLevel.COMMUNE, "x", parent="tinh-a")
    with pytest.raises(Forbidden):  # a new root needs an admin of the whole tree
        kit.services.units.create(admin_a, "tinh-z", UnitLevel.PROVINCE, "x")
    with pytest.raises(NotFound):
        kit.services.users.grant(admin_a, "admin-a", "tinh-a", Role.ADMIN)
    with pytest.raises(Forbidden):  # prov holds a role above admin-a's reach
        kit.services.users.update(admin_a, "prov", disabled=True)


def test_top_admin_creating_a_root_administers_it(kit: Kit) -> None:
    admin = kit.who("admin")
    kit.services.units.create(admin, "tinh-b", UnitLevel.PROVINCE, "Tỉnh B")
    kit.services.units.create(admin, "xa-c", UnitLevel.COMMUNE, "Xã C", parent="tinh-b")
    grants = {(g.unit, g.role) for g in kit.services.users.get(admin, "admin").grants}
    assert ("tinh-b", Role.ADMIN) in grants


def test_revoking_a_role_takes_effect_on_the_next_call(kit: Kit) -> None:
    viewer = kit.who("viewer-a")
    assert kit.services.stations.list_stations(viewer)
    kit.services.users.revoke_grant(SYSTEM, "viewer-a", "xa-a", Role.VIEWER)
    assert kit.services.stations.list_stations(viewer) == []


def test_merged_communes_stay_in_the_scope_of_the_target(kit: Kit) -> None:
    kit.services.users.grant(SYSTEM, "op-b", "xa-a", Role.VIEWER)
    kit.services.users.revoke_grant(SYSTEM, "op-b", "xa-b", Role.OPERATOR)
    assert {s.commune for s in kit.services.stations.list_stations(kit.who("op-b"))} \
        == {"xa-a"}
    kit.services.units.merge(SYSTEM, ["xa-b"], "xa-a", DAY + dt.timedelta(days=1))
    assert {s.commune for s in kit.services.stations.list_stations(kit.who("op-b"))} \
        == {"xa-a", "xa-b"}
