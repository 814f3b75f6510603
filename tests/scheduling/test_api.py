"""The schedule and emergency routes over a real uvicorn on a Unix socket (peer
credentials; the test maps ``root`` to the user it acts as)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.api.app import create_app
from controller.api.server import ApiServer
from tests.station.kit import map_unix_user

from .conftest import MORNING, MUSIC, STORM, TOMORROW, Commune


@pytest.fixture
def api(sqlite_commune: Commune, tmp_path: Path) -> Iterator[Any]:
    path = tmp_path / "api.sock"
    server = ApiServer(create_app(sqlite_commune.kit.services), uds=path)
    server.start()

    def as_user(username: str, language: str = "vi") -> httpx.Client:
        map_unix_user(sqlite_commune.kit, "root", username)
        return httpx.Client(transport=httpx.HTTPTransport(uds=str(path)),
                            base_url="http://loaxa/v1", timeout=20,
                            headers={"Accept-Language": language})

    yield as_user
    server.stop()


SANG = {"key": "sang", "title": "Tin sáng", "items": [{"content": MORNING}],
        "recurrence": {"kind": "daily", "at": "05:00"}}
CLASH = {"key": "nhac", "title": "Nhạc", "items": [{"title": "Nhạc chờ"}],
         "recurrence": {"kind": "weekly", "weekdays": ["all"], "at": "05:02"}}


def test_conflicts_answer_409_with_a_structured_translated_list(api: Any) -> None:
    with api("op-a") as operator:
        made = operator.post("/communes/xa-a/programmes", json=SANG)
        assert made.status_code == 201, made.text
        assert (made.json()["status"], made.json()["items"][0]["title"]) == (
            "draft", "Bản tin sáng")
    with api("appr-a") as approver:
        assert approver.post("/communes/xa-a/programmes/sang/approve").json()["status"] == \
            "approved"
    with api("op-a") as operator:
        refused = operator.post("/communes/xa-a/programmes", json=CLASH)
        assert refused.status_code == 409
        body = refused.json()
        assert body["code"] == "schedule_conflict" and "xung đột" in body["message"]
        assert body["overridable"] is True and body["details"]
        overlap = body["conflicts"][0]
        assert (overlap["kind"], overlap["other_programme"], overlap["other_priority"],
                sorted(overlap["agents"])) == ("overlap", "sang", "normal",
                                               ["ag-1", "ag-2", "ag-3"])
        assert "trùng giờ với sang" in overlap["message"]
        assert operator.get("/communes/xa-a/programmes/nhac").status_code == 404
        checked = operator.post("/communes/xa-a/programmes/check", json=CLASH).json()
        assert checked["ok"] is False and checked["conflicts"][0]["kind"] == "overlap"
        appended = operator.post("/communes/xa-a/programmes", json={**CLASH,
                                                                    "resolve": "append"})
        assert appended.status_code == 201
        assert (appended.json()["placement"], appended.json()["conflicts"][0]["kind"]) == (
            "append", "overlap")
    with api("op-a", language="en") as english:
        again = english.post("/communes/xa-a/programmes", json={**CLASH, "key": "nhac-2"})
        assert again.status_code == 409 and "overlaps sang" in again.json()["conflicts"][0][
            "message"]
        edited = english.patch("/communes/xa-a/programmes/sang", json={
            "recurrence": {"kind": "daily", "at": "05:01"}, "resolve": "override"})
        assert edited.status_code == 200, edited.text
        assert (edited.json()["revision"], edited.json()["on_air_revision"],
                edited.json()["placement"]) == (2, 1, "override")


def test_approval_and_emergency_rules_over_http(api: Any) -> None:
    with api("viewer-a") as viewer:
        assert viewer.post("/communes/xa-a/programmes", json=SANG).status_code == 403
    with api("op-a") as operator:
        assert operator.post("/communes/xa-a/programmes", json=SANG).status_code == 201
        assert operator.post("/communes/xa-a/programmes/sang/approve").status_code == 403
        assert operator.post("/communes/xa-a/emergencies", json={
            "content": STORM, "all_villages": True}).status_code == 403
    with api("em-a") as holder:
        started = holder.post("/communes/xa-a/emergencies", json={
            "title": "Tin bão số 3", "villages": ["thon-a1"], "repeat_every_minutes": 15,
            "volume": 95})
        assert started.status_code == 201, started.text
        emergency = started.json()
        assert (emergency["active"], emergency["repeat_every_s"], emergency["volume"]) == (
            True, 900, 95)
        assert holder.post(f"/communes/xa-a/emergencies/{emergency['id']}/acknowledge"
                           ).status_code == 403
    with api("appr-a") as approver:
        waiting = approver.get("/communes/xa-a/emergencies",
                               params={"unacknowledged": "true"}).json()
        assert [e["id"] for e in waiting] == [emergency["id"]]
        stopped = approver.post("/communes/xa-a/emergencies/stop").json()
        assert (stopped["active"], stopped["stop_reason"]) == (False, "stopped")
        acked = approver.post(f"/communes/xa-a/emergencies/{emergency['id']}/acknowledge",
                              json={"note": "đúng quy trình"})
        assert acked.json()["acknowledged_by"] == "appr-a"
        assert approver.get("/communes/xa-a/emergencies",
                            params={"unacknowledged": "true"}).json() == []
        audit = approver.get("/audit", params={"action": "emergency."}).json()
        assert [e["action"] for e in audit["entries"]] == [
            "emergency.acknowledge", "emergency.stop", "emergency.start"]


@pytest.mark.parametrize("body", [
    {**SANG, "recurrence": {"kind": "daily", "at": "25:00"}},
    {**SANG, "recurrence": {"kind": "daily", "at": "05:00+07:00"}},
    {**SANG, "recurrence": {"kind": "monthly"}},
    {**SANG, "recurrence": {"kind": "range", "first": "2026-02-01", "last": "2026-01-01"}},
    {**SANG, "recurrence": {"kind": "every", "minutes": 30, "start": "2026-01-02T05:00",
                            "end": "2026-01-01T05:00"}},
    {**SANG, "items": [{"content": MORNING, "title": "Bản tin sáng"}]},
    {**SANG, "items": []},
    {**SANG, "priority": "urgent"},
    {**SANG, "key": "Có Dấu"},
    {**SANG, "villages": ["thon-b1"]},
    {**SANG, "items": [{"content": "e" * 64}]},
])
def test_bad_programmes_are_refused_with_a_reason(api: Any, body: dict[str, Any]) -> None:
    with api("op-a") as operator:
        answer = operator.post("/communes/xa-a/programmes", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["message"]


def test_sessions_pins_a_day_and_an_agents_plan(api: Any) -> None:
    with api("op-a") as operator:
        session = operator.post("/communes/xa-a/sessions", json={
            "key": "sang", "start": "05:00", "cap_minutes": 45, "weekdays": ["mon", "fri"]})
        assert session.status_code == 201 and session.json()["weekdays"] == ["mon", "fri"]
        assert operator.patch("/communes/xa-a/sessions/sang", json={
            "weekdays": ["all"]}).json()["weekdays"][-1] == "sun"
        assert operator.post("/communes/xa-a/programmes", json={
            **SANG, "recurrence": {"kind": "daily"}, "session": "sang"}).status_code == 201
        assert operator.post("/communes/xa-a/pins", json={"content": MUSIC}).status_code == 201
        assert [p["title"] for p in operator.get("/communes/xa-a/pins").json()] == [
            "Nhạc chờ"]
    with api("appr-a") as approver:
        approver.post("/communes/xa-a/programmes/sang/approve")
        day = approver.get("/communes/xa-a/timeline",
                           params={"day": TOMORROW.isoformat()}).json()
        assert [(e["programme"], e["session"], e["agents"]) for e in day["entries"]] == [
            ("sang", "sang", ["ag-1", "ag-2", "ag-3"])]
        assert day["entries"][0]["start"] == "2026-01-01T22:00:00Z"  # 05:00 in Hanoi
        plan = approver.get("/agents/ag-1/plan").json()
        assert plan["version"] is None and plan["slots"] == []  # the daemon publishes
        assert approver.get("/agents/ag-unknown/plan").status_code == 404
        assert approver.delete("/communes/xa-a/sessions/sang").status_code == 409
