"""Every object kind round-trips through the CLI with ``--json``: create, list/show,
update, show again — against the running API, over the local socket."""

from __future__ import annotations

import json
import threading

from controller.storage.tables.registry import StationKind

from .conftest import Station


def test_units(loaxa: Station) -> None:
    made = loaxa.ok("units", "create", "thon-a3", "--level", "village", "--name", "Thôn 3",
                    "--parent", "xa-a", "--from", "2026-01-01")
    assert made["parent"] == "xa-a"
    assert "thon-a3" in {u["key"] for u in loaxa.ok("units", "tree")}
    loaxa.ok("units", "update", "thon-a3", "--name", "Thôn Ba", "--from", "2026-03-01")
    assert loaxa.ok("units", "show", "thon-a3", "--on", "2026-02-01")["name"] == "Thôn 3"
    assert loaxa.ok("units", "show", "thon-a3", "--on", "2026-03-01")["name"] == "Thôn Ba"
    assert [v["name"] for v in loaxa.ok("units", "history", "thon-a3")] == ["Thôn 3",
                                                                             "Thôn Ba"]
    merged = loaxa.ok("units", "merge", "xa-b", "--into", "xa-a", "--from", "2026-06-01")
    assert merged["key"] == "xa-a"
    assert loaxa.ok("units", "show", "xa-b")["merged_into"] == "xa-a"


def test_stations(loaxa: Station) -> None:
    loaxa.ok("stations", "create", "xa-a", "st-fm", "--name", "Đài FM", "--kind", "fm")
    assert "st-fm" in {s["key"] for s in loaxa.ok("stations", "list", "--commune", "xa-a")}
    assert loaxa.ok("stations", "update", "xa-a", "st-fm", "--kind", "hybrid")["kind"] == \
        "hybrid"
    assert loaxa.ok("stations", "show", "xa-a", "st-fm") | {"created_at": None} == {
        "commune": "xa-a", "key": "st-fm", "name": "Đài FM", "kind": "hybrid",
        "created_at": None}


def test_clusters(loaxa: Station) -> None:
    loaxa.ok("clusters", "create", "xa-a", "c-2", "--name", "Cụm 2", "--kind", "wired",
             "--station", "st-a", "--village", "thon-a2")
    assert {"c-2", "c-thon-a1"} <= {c["key"] for c in loaxa.ok("clusters", "list")}
    loaxa.ok("clusters", "update", "xa-a", "c-2", "--kind", "ip", "--village", "thon-a1")
    shown = loaxa.ok("clusters", "show", "xa-a", "c-2")
    assert (shown["kind"], shown["village"], shown["agent"]) == ("ip", "thon-a1", None)


def test_agents_and_enrolment(loaxa: Station) -> None:
    made = loaxa.ok("agents", "create", "xa-a", "--id", "ag-1", "--cluster", "c-thon-a1",
                    "--serial", "SN-1", "--lat", "21.03", "--lon", "105.85")
    assert (made["status"], made["live"]["connectivity"]) == ("pending", "unknown")
    loaxa.ok("agents", "update", "ag-1", "--imei", "356938035643809", "--clear", "serial",
             "--install-date", "2026-01-02")
    shown = loaxa.ok("agents", "show", "ag-1")
    assert (shown["imei"], shown["serial"], shown["install_date"]) == (
        "356938035643809", None, "2026-01-02")
    assert [a["id"] for a in loaxa.ok("agents", "list", "--status", "pending")] == ["ag-1"]
    issued = loaxa.ok("enrol", "issue", "xa-a", "--agent", "ag-1")
    assert issued["command"].startswith("loaxa agent enroll ") and issued["code"] in \
        issued["command"]
    assert [p["agent_id"] for p in loaxa.ok("enrol", "pending")] == ["ag-1"]
    revoked = loaxa.ok("agents", "revoke", "ag-1", "--yes", "--reason", "test")
    assert revoked["agent"]["status"] == "revoked" and revoked["broker_synced"]
    assert loaxa.ok("enrol", "pending") == []


def test_users_and_roles(loaxa: Station) -> None:
    created = loaxa.ok("users", "create", "op-a", "--display-name", "Chị Lan",
                       "--password-stdin", stdin="mật khẩu tốt 123\n")
    assert created["has_password"] and created["grants"] == []
    granted = loaxa.ok("users", "grant", "op-a", "--unit", "xa-a", "--role", "operator",
                       "--emergency")
    assert [(g["unit"], g["role"], g["emergency"]) for g in granted["grants"]] == [
        ("xa-a", "operator", True)]
    loaxa.ok("users", "update", "op-a", "--language", "en", "--unix-user", "lan")
    shown = loaxa.ok("users", "show", "op-a")
    assert (shown["language"], shown["unix_user"]) == ("en", "lan")
    assert loaxa.ok("users", "ungrant", "op-a", "--unit", "xa-a", "--role", "operator"
                    )["grants"] == []
    assert loaxa.ok("users", "password", "op-a", "--password-stdin",
                    stdin="một mật khẩu khác\n") == {"username": "op-a", "password_set": True}
    token = loaxa.ok("login", "-u", "op-a", "--password-stdin", stdin="một mật khẩu khác\n")
    assert loaxa.ok("--token", token["token"], "whoami")["username"] == "op-a"
    assert "op-a" in {u["username"] for u in loaxa.ok("users", "list")}


def test_audit_fleet_keys_and_backups(loaxa: Station) -> None:
    loaxa.ok("stations", "create", "xa-a", "st-x", "--name", "X", "--kind", "ip")
    page = loaxa.ok("audit", "--action", "station.create", "--commune", "xa-a", "--limit", "1")
    assert page["entries"][0]["target"] == "st-x" and page["entries"][0]["username"] == "admin"
    older = loaxa.ok("audit", "--action", "station.create", "--before",
                     str(page["next_before_id"]))
    assert "st-x" not in {e["target"] for e in older["entries"]}
    summary = loaxa.ok("fleet", "--commune", "xa-a")
    assert summary["stations_by_kind"] == {"ip": 2}
    keys = loaxa.ok("keys", "list", "xa-a")
    assert (keys["epoch"], len(keys["keys"])) == (1, 1)
    new = loaxa.ok("keys", "rotate", "xa-a")
    assert loaxa.ok("keys", "activate", "xa-a")["key_id"] == new["key_id"]
    old = next(k["key_id"] for k in keys["keys"])
    assert loaxa.ok("keys", "retire", "xa-a", old)["status"] == "revoked"
    assert loaxa.ok("keys", "list", "xa-a")["trust_version"] == keys["trust_version"] + 3
    backup = loaxa.ok("backup", "now")
    assert [b["name"] for b in loaxa.ok("backup", "list")] == [backup["name"]]


def test_human_output_is_vietnamese_by_default(loaxa: Station) -> None:
    result = loaxa("stations", "list")
    assert result.code == 0 and "Loại" in result.out and "Xã" in result.out
    tree = loaxa("units", "tree")
    assert "Tỉnh A  [tinh-a, tỉnh]" in tree.out and "    Thôn a1  [thon-a1, thôn]" in tree.out


def test_events_and_logout(loaxa: Station) -> None:
    listened = threading.Event()

    def act() -> None:  # until the CLI has heard one (it may subscribe late on a busy box)
        for n in range(40):
            if listened.wait(0.5):
                return
            loaxa.kit.services.stations.create_station(loaxa.kit.who("tech-a"), "xa-a",
                                                       f"st-ev-{n}", "E", StationKind.FM)

    actor = threading.Thread(target=act)
    actor.start()
    try:
        result = loaxa("events", "--count", "1", "--timeout", "30", "--json")
    finally:
        listened.set()
        actor.join()
    assert result.code == 0, result.err
    event = json.loads(result.out)
    assert (event["kind"], event["username"]) == ("audit", "tech-a")
    assert event["target"].startswith("st-ev-")

    token = loaxa.ok("login", "-u", "viewer-a", "--password-stdin",
                     stdin="correct horse battery\n")["token"]
    assert loaxa.ok("--token", token, "logout") == {"logged_out": True}
    assert loaxa("--token", token, "whoami").code == 3
