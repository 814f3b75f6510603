"""``/v1/events``: the event bus over a WebSocket on the real local socket, with peer
credentials, filtered to the communes the user may read."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from controller.storage.tables.registry import StationKind
from tests.station.kit import SYSTEM, Kit, map_unix_user

from .conftest import uds_client

websockets_client = pytest.importorskip(
    "websockets.sync.client", reason="uvicorn serves WebSockets only with 'websockets' installed")


def connect(path: Path, **headers: str):  # type: ignore[no-untyped-def]
    return websockets_client.unix_connect(str(path), uri="ws://loaxa/v1/events",
                                          additional_headers=headers, open_timeout=5)


def test_events_follow_actions_within_the_users_communes(socket_path: Path, kit: Kit) -> None:
    map_unix_user(kit, "root", "tech-a")
    with connect(socket_path) as events, uds_client(socket_path) as local:
        kit.services.stations.create_station(SYSTEM, "xa-b", "st-hidden", "B",
                                             StationKind.FM)
        assert local.post("/v1/communes/xa-a/stations",
                          json={"key": "st-seen", "name": "A", "kind": "fm"}).status_code == 201
        first = json.loads(events.recv(timeout=5))
        # The xa-b action came first; had it been delivered it would be this message.
        assert (first["kind"], first["action"], first["target"], first["username"],
                first["commune"]) == ("audit", "station.create", "st-seen", "tech-a", "xa-a")
        issued = local.post("/v1/communes/xa-a/enrolment-codes",
                            json={"cluster": "c-thon-a1"}).json()
        kinds = {json.loads(events.recv(timeout=5))["kind"] for _ in range(2)}
        assert kinds == {"audit", "enrolment_code_issued"}
        assert issued["agent_id"]


def test_events_need_authentication(socket_path: Path, kit: Kit) -> None:
    map_unix_user(kit, "root", None)
    with pytest.raises(Exception) as refused, connect(socket_path):
        pass
    assert "403" in str(refused.value) or "1008" in str(refused.value)
    with uds_client(socket_path) as local:
        token = local.post("/v1/auth/login", json={"username": "viewer-a",
                                                   "password": "correct horse battery"})
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
    with connect(socket_path, **headers) as events:
        kit.services.stations.create_station(SYSTEM, "xa-a", "st-z", "Z", StationKind.IP)
        assert json.loads(events.recv(timeout=5))["target"] == "st-z"


def test_a_dropped_client_leaves_no_listener(socket_path: Path, kit: Kit) -> None:
    map_unix_user(kit, "root", "admin")
    before = len(kit.bus._callbacks)
    with connect(socket_path) as events:
        events.ping().wait(5)
        assert len(kit.bus._callbacks) == before + 1
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path)),
                      base_url="http://loaxa") as local:
        for _ in range(50):
            local.get("/v1/me")  # give the server a moment to notice the close
            if len(kit.bus._callbacks) == before:
                break
    assert len(kit.bus._callbacks) == before
