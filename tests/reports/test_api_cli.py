"""Reports, attestations and alerts through the operator API (real uvicorn on a Unix
socket, peer credentials) and the CLI (``loaxa report|attest|alerts``), scoped by role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from controller.api.app import create_app
from controller.api.server import ApiServer
from controller.cli.app import run
from controller.storage.tables.registry import ClusterKind
from tests.station.kit import SYSTEM, Kit, make_kit, map_unix_user
from tests.station.speed import cheap_password_hashing  # noqa: F401

PERIOD = {"from": "2026-01-01", "to": "2026-01-31"}  # the kit's units start 2026-01-01


@dataclass
class Station:
    kit: Kit
    socket: Path
    capsys: pytest.CaptureFixture[str]

    def http(self, as_user: str) -> httpx.Client:
        map_unix_user(self.kit, "root", as_user)
        return httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)),
                            base_url="http://loaxa", timeout=30)

    def cli(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = run(["--socket", str(self.socket), *args])
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def station(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Station]:
    kit = make_kit(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    kit.services.stations.create_cluster(SYSTEM, "xa-b", "c-fm", "Cụm FM", ClusterKind.FM,
                                         "st-b", "thon-b1")
    socket = tmp_path / "api.sock"
    server = ApiServer(create_app(kit.services), uds=socket)
    server.start()
    yield Station(kit, socket, capsys)
    server.stop()
    kit.close()


def test_report_files_through_the_api(station: Station, tmp_path: Path) -> None:
    with station.http("prov") as client:  # a province viewer
        answer = client.get("/v1/reports/indicators",
                            params={**PERIOD, "format": "xlsx", "unit": "tinh-a"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert 'filename="loaxa-indicators-tinh-a-2026-01-01_2026-01-31.xlsx"' in \
            answer.headers["content-disposition"]
        path = tmp_path / "report.xlsx"
        path.write_bytes(answer.content)
        assert load_workbook(path, read_only=True).sheetnames[0] == "Báo cáo chỉ tiêu 1 và 2"
        english = client.get("/v1/reports/uptime", params={**PERIOD, "format": "json"},
                             headers={"Accept-Language": "en"}).json()
        assert english["headings"]["outages"] == "Outages"
        assert sorted(c["key"] for c in english["communes"]) == ["xa-a", "xa-b"]
        bad = client.get("/v1/reports/indicators", params={"from": "2026-01-31",
                                                           "to": "2026-01-01"})
        assert bad.status_code == 422 and bad.json()["code"] == "invalid"
        unknown = client.get("/v1/reports/indicators", params={**PERIOD, "definition": "x-9"})
        assert unknown.status_code == 422
    with station.http("viewer-a") as client:  # reads xa-a only
        mine = client.get("/v1/reports/indicators", params=PERIOD).json()
        assert [c["key"] for c in mine["communes"]] == ["xa-a"]
        other = client.get("/v1/reports/indicators", params={**PERIOD, "unit": "xa-b"})
        assert other.status_code == 404
        above = client.get("/v1/reports/indicators", params={**PERIOD, "unit": "tinh-a"})
        assert above.status_code == 404  # not a "province" report of one commune


def test_attestations_and_alerts_through_the_api(station: Station) -> None:
    with station.http("op-b") as client:
        made = client.post("/v1/communes/xa-b/attestations", json={
            "target": "cluster", "key": "c-fm", "start": "2025-12-01", "end": "2025-12-31",
            "note": "đã kiểm tra"})
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["attested_by"], body["period_end"]) == ("op-b", "2025-12-31")
        listed = client.get("/v1/attestations", params={"commune": "xa-b"}).json()
        assert [a["id"] for a in listed] == [body["id"]]
        gone = client.post(f"/v1/attestations/{body['id']}/withdraw").json()
        assert gone["withdrawn_by"] == "op-b"
        assert client.get("/v1/alerts", params={"open": "true"}).json() == []
    with station.http("viewer-a") as client:
        refused = client.post("/v1/communes/xa-a/attestations", json={
            "target": "cluster", "key": "c-thon-a1", "start": "2025-12-01"})
        assert refused.status_code == 403


def test_cli_report_attest_and_alerts(station: Station, tmp_path: Path) -> None:
    map_unix_user(station.kit, "root", "admin")
    target = tmp_path / "chi-tieu.csv"
    code, out, err = station.cli("report", "indicators", "--from", "2026-01-01", "--to",
                                 "2026-01-31", "--unit", "tinh-a", "-o", str(target))
    assert code == 0, err
    assert str(target) in out
    text = target.read_text(encoding="utf-8-sig")
    assert "STT,Nội dung chỉ tiêu,Giá trị" in text and "loaxa-2024.1" in text
    code, out, err = station.cli("report", "uptime", "--period", "month", "--on",
                                 "2026-01-15", "--lang", "en")
    assert code == 0, err
    period = json.loads(out)["period"]
    # Made at 10:00 local on 2026-01-01 (the kit's clock): 04:30-10:00 of the window.
    assert period == {"from": "2026-01-01", "to": "2026-01-31", "units_as_of": "2026-01-31",
                      "measured_until": "2026-01-01T03:00:00+00:00", "window_ms": 19_800_000}
    code, out, err = station.cli("report", "indicators", "--from", "2026-01-01",
                                 "--format", "xlsx")
    assert code == 2 and "-o" in err
    code, out, err = station.cli("attest", "cluster", "xa-b", "c-fm", "--from", "2025-12-01",
                                 "--json")
    assert code == 0, err
    made: dict[str, Any] = json.loads(out)
    assert (made["key"], made["effective_end"]) == ("c-fm", "2026-03-02")
    code, out, err = station.cli("attest", "list")
    assert code == 0 and "c-fm" in out
    code, out, err = station.cli("attest", "cluster", "xa-b", "c-thon-b1", "--from",
                                 "2025-12-01")
    assert code == 5 and "IP" in err  # refused, in Vietnamese, no traceback
    assert "Traceback" not in err
    code, out, err = station.cli("alerts", "--json")
    assert code == 0 and json.loads(out) == []


def test_cli_local_report_reads_the_database(station: Station, tmp_path: Path) -> None:
    """What the regional collector uses: no API, the database named by the settings."""
    settings = tmp_path / "collector.toml"
    settings.write_text(f'[station]\ndata_dir = "{tmp_path / "data"}"\ncommune = "xa-a"\n'
                        f'[database]\nurl = "{station.kit.db.url.render_as_string()}"\n')
    target = tmp_path / "report.json"
    code, out, err = station.cli("report", "indicators", "--local", "-c", str(settings),
                                 "--from", "2026-01-01", "--to", "2026-01-31", "-o",
                                 str(target))
    assert code == 0, err
    assert str(target) in out
    body = json.loads(target.read_text())
    assert body["definition"]["version"] == "loaxa-2024.1"
    assert sorted(c["key"] for c in body["communes"]) == ["xa-a", "xa-b"]
    code, _out, err = station.cli("report", "indicators", "--local", "-c", str(settings),
                                  "--from", "2026-01-01", "--unit", "nowhere")
    assert code == 4 and "nowhere" in err
