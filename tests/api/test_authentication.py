"""Every call is authenticated (peer credentials on the local socket, or a token) and
authorised per commune; refusals are JSON with a stable code and a translated message;
the audit log records who did what."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from controller.api.server import ApiServer
from controller.broker.pki import CertificateAuthority
from tests.station.kit import PASSWORD, SYSTEM, Kit, map_unix_user
from tests.support.ports import free_port

from .conftest import uds_client


def login(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post("/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_an_unmapped_peer_is_refused_in_vietnamese_by_default(local: httpx.Client,
                                                                kit: Kit) -> None:
    map_unix_user(kit, "root", None)
    response = local.get("/v1/stations")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthenticated"
    assert "root" in body["message"] and "không phải" in body["message"]
    english = local.get("/v1/stations", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "is not a loaxa user" in english.json()["message"]


def test_peer_credentials_identify_the_mapped_user(local: httpx.Client, kit: Kit) -> None:
    map_unix_user(kit, "root", "tech-a")
    me = local.get("/v1/me")
    assert me.status_code == 200 and me.json()["username"] == "tech-a"
    assert [s["commune"] for s in local.get("/v1/stations").json()] == ["xa-a"]


def test_a_token_wins_over_the_peer(local: httpx.Client, kit: Kit) -> None:
    map_unix_user(kit, "root", "tech-a")
    headers = login(local, "viewer-a")
    assert local.get("/v1/me", headers=headers).json()["username"] == "viewer-a"
    bad = local.get("/v1/me", headers={"Authorization": "Bearer lx_forged"})
    assert bad.status_code == 401 and bad.json()["code"] == "unauthenticated"


def test_wrong_password_is_refused_without_detail(local: httpx.Client) -> None:
    response = local.post("/v1/auth/login", json={"username": "tech-a", "password": "nope"})
    assert response.status_code == 401
    assert response.json()["message"] == local.post(
        "/v1/auth/login", json={"username": "ghost", "password": "nope"}).json()["message"]


def test_wrong_role_is_refused(local: httpx.Client, kit: Kit) -> None:
    map_unix_user(kit, "root", "viewer-a")
    response = local.post("/v1/communes/xa-a/stations",
                          json={"key": "st-9", "name": "X", "kind": "fm"})
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    map_unix_user(kit, "root", "tech-a")
    assert local.post("/v1/communes/xa-a/stations",
                      json={"key": "st-9", "name": "X", "kind": "fm"}).status_code == 201


def test_another_communes_data_is_refused(local: httpx.Client, kit: Kit) -> None:
    agent = kit.services.agents.create(SYSTEM, "xa-b", "ag-b1", cluster="c-thon-b1")
    map_unix_user(kit, "root", "tech-a")
    assert local.get("/v1/stations", params={"commune": "xa-b"}).status_code == 403
    assert local.get("/v1/communes/xa-b/stations/st-b").status_code == 403
    assert local.post("/v1/communes/xa-b/enrolment-codes",
                      json={"cluster": "c-thon-b1"}).status_code == 403
    assert local.get(f"/v1/agents/{agent.id}").status_code == 404
    assert local.post(f"/v1/agents/{agent.id}/revoke", json={}).status_code == 404
    assert agent.id not in {a["id"] for a in local.get("/v1/agents").json()}
    assert local.get(f"/v1/agents/{agent.id}",
                     headers=login(local, "op-b")).status_code == 200  # positive control


def test_the_audit_log_records_who_did_what(local: httpx.Client, kit: Kit) -> None:
    map_unix_user(kit, "root", "tech-a")
    assert local.post("/v1/communes/xa-a/stations",
                      json={"key": "st-l", "name": "Local", "kind": "wired"}).status_code == 201
    admin = login(local, "admin-a")
    assert local.patch("/v1/communes/xa-a/stations/st-l", headers=admin,
                       json={"name": "Renamed"}).status_code == 200
    entries = local.get("/v1/audit", headers=admin,
                        params={"target": "st-l", "action": "station."}).json()["entries"]
    assert [(e["username"], e["action"], e["commune"], e["source"]) for e in entries] == [
        ("admin-a", "station.update", "xa-a", "api"),
        ("tech-a", "station.create", "xa-a", "local")]
    assert entries[0]["detail"]["name"] == "Renamed"


def test_bad_input_is_a_json_error_never_a_server_error(local: httpx.Client, kit: Kit) -> None:
    map_unix_user(kit, "root", "admin")
    cases = [
        local.post("/v1/units", json={"key": "Bad Key!", "level": "village", "name": "x"}),
        local.post("/v1/units", content=b"{not json", headers={"Content-Type":
                                                               "application/json"}),
        local.get("/v1/audit", params={"limit": "lots"}),
        local.get("/v1/audit", params={"since": "0001-01-01T00:00:00+14:00"}),
        local.post("/v1/communes/xa-a/agents", json={"latitude": 1e308}),
        local.get("/v1/units/x%00y"),
    ]
    for response in cases:
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_request" and response.json()["message"]
    missing = local.get("/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong_method = local.delete("/v1/units")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == \
        "method_not_allowed"


def test_a_users_language_setting_applies_without_accept_language(local: httpx.Client,
                                                                   kit: Kit) -> None:
    kit.services.users.update(SYSTEM, "viewer-a", language="en")
    map_unix_user(kit, "root", "viewer-a")
    response = local.post("/v1/communes/xa-a/stations",
                          json={"key": "st-9", "name": "X", "kind": "fm"})
    assert response.json()["message"] == "You do not have permission for this in that unit."
    vietnamese = local.post("/v1/communes/xa-a/stations", headers={"Accept-Language": "vi"},
                            json={"key": "st-9", "name": "X", "kind": "fm"})
    assert vietnamese.json()["message"] != response.json()["message"]


def test_logout_ends_the_token(local: httpx.Client) -> None:
    headers = login(local, "viewer-a")
    assert local.post("/v1/auth/logout", headers=headers).status_code == 204
    assert local.get("/v1/me", headers=headers).status_code == 401


@pytest.fixture
def tls_server(app: FastAPI, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca = CertificateAuthority.create("test CA")
    issued = ca.issue_server("loaxa-api", ["localhost"], ["127.0.0.1"])
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "api.crt").write_bytes(issued.cert_pem)
    (tmp_path / "api.key").write_bytes(issued.key_pem)
    port = free_port()
    server = ApiServer(app, host="127.0.0.1", port=port, tls_cert=tmp_path / "api.crt",
                       tls_key=tmp_path / "api.key")
    server.start()
    yield f"https://127.0.0.1:{port}", tmp_path / "ca.pem"
    server.stop()


def test_tcp_with_tls_needs_a_token(tls_server: tuple[str, Path]) -> None:
    url, ca = tls_server
    context = ssl.create_default_context(cafile=str(ca))
    with httpx.Client(base_url=url, verify=context, timeout=10) as client:
        assert client.get("/v1/me").status_code == 401  # no peer credentials over TCP
        assert client.get("/v1/me", headers=login(client, "prov")).json()["username"] == "prov"
    with pytest.raises(httpx.HTTPError), httpx.Client(base_url=url.replace("https", "http"),
                                                      timeout=5) as plain:
        plain.get("/v1/me")


def test_openapi_describes_a_versioned_api(socket_path: Path) -> None:
    with uds_client(socket_path) as client:
        schema = client.get("/v1/openapi.json").json()
    assert schema["info"]["version"].startswith("1.")
    assert all(path.startswith("/v1/") for path in schema["paths"])
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert {"/v1/units", "/v1/agents", "/v1/enrolment-codes", "/v1/audit", "/v1/users",
            "/v1/fleet/summary"} <= set(schema["paths"])
