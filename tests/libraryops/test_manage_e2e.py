"""Keeping the library in a real station: rename, delete, delete refused while a planned
slot still needs the item, files kept while another commune's row names them, every
change audited; and who may do it: viewers read but do not change, another commune's
items are invisible."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .station import COMMUNE, Station, station

pytestmark = pytest.mark.e2e
OTHER = "xa-ben"
PASSWORD = "mat-khau-du-dai"
FUTURE_NS = time.time_ns() + 3 * 3600 * 10**9
PAST_NS = time.time_ns() - 3600 * 10**9


@dataclass
class Setup:
    running: Station
    sha256: str  # the bulletin, in both communes' libraries
    tokens: dict[str, str]


def login(running: Station, username: str) -> str:
    with running.client() as client:
        response = client.post("/v1/auth/login",
                               json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory,
          bulletins: dict[str, Path]) -> Iterator[Setup]:
    with station(tmp_path_factory.mktemp("manage-station")) as running:
        op = running.operator
        op.json("units", "create", OTHER, "--level", "commune", "--name", "Xã Bên")
        first = op.json("library", "import", str(bulletins["mp3"]), "--title", "Bản tin bão")
        other = op.json("library", "import", str(bulletins["mp3"]), "--commune", OTHER)
        assert first[0]["item"]["sha256"] == other[0]["item"]["sha256"]
        with running.client() as client:
            for username, unit, role in (("xem", COMMUNE, "viewer"),
                                         ("vanhanh-ben", OTHER, "operator")):
                assert client.post("/v1/users", json={
                    "username": username, "password": PASSWORD}).status_code == 201
                assert client.post(f"/v1/users/{username}/grants", json={
                    "unit": unit, "role": role}).status_code == 200
        yield Setup(running, first[0]["item"]["sha256"],
                    {name: login(running, name) for name in ("xem", "vanhanh-ben")})


def commune_id(running: Station, key: str) -> int:
    with contextlib.closing(sqlite3.connect(running.data / "loaxa.db")) as conn:
        row = conn.execute("SELECT id FROM admin_unit WHERE key = ?", (key,)).fetchone()
    return int(row[0])


def plan_slot(running: Station, sha256: str, programme: str, *, slot: str,
              window_end_ns: int, withdrawn: bool = False, commune: str = COMMUNE) -> None:
    """A row as the planner writes it when it publishes an agent's plan."""
    running.sql(
        "INSERT INTO planned_slot (agent_id, slot_id, commune_id, programme_id, start_ns, "
        "duration_ms, window_end_ns, content, priority, policy, fragment, plan_epoch, "
        "plan_version, planned_at, withdrawn_at) VALUES (?, ?, ?, ?, ?, 8000, ?, ?, 30, 0, "
        "0, 1, 1, '2026-11-22 10:00:00.000000', ?)",
        "agent-1", slot, commune_id(running, commune), programme, window_end_ns - 60 * 10**9,
        window_end_ns, sha256, "2026-11-22 10:05:00.000000" if withdrawn else None)


def items(running: Station, commune: str = COMMUNE) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = running.operator.json("library", "list", "--commune",
                                                         commune)
    return listed


# ---------------------------------------------------------------------------- managing


def test_rename(setup: Setup) -> None:
    op = setup.running.operator
    done = op.run("library", "rename", setup.sha256[:8], "Bão số 3: tin khẩn")
    assert done.stdout.strip() == "Đã đổi tên bản tin số 1 thành «Bão số 3: tin khẩn»."
    assert op.json("library", "show", "1")["title"] == "Bão số 3: tin khẩn"
    refused = op.run("library", "rename", "1", "   ", check=False)
    assert refused.returncode == 5
    assert refused.stderr.splitlines()[0] == "Lỗi: Yêu cầu không hợp lệ."
    assert "body.title" in refused.stderr
    missing = op.run("library", "show", "99", check=False)
    assert missing.returncode == 4
    assert missing.stderr.strip() == "Lỗi: Thư viện của xã không có bản tin 99."


def test_delete_is_refused_while_a_planned_slot_needs_the_item(setup: Setup) -> None:
    running, sha = setup.running, setup.sha256
    title = running.operator.json("library", "show", "1")["title"]
    plan_slot(running, sha, "ban-tin-sang", slot="s1", window_end_ns=FUTURE_NS)
    plan_slot(running, sha, "ban-tin-hom-qua", slot="s0", window_end_ns=PAST_NS)
    plan_slot(running, sha, "ban-tin-da-rut", slot="s2", window_end_ns=FUTURE_NS,
              withdrawn=True)
    rows, files = running.rows(), running.stored_files()

    assert running.operator.json("library", "show", "1")["used_by"] == ["ban-tin-sang"]
    done = running.operator.run("library", "delete", "1", "--yes", check=False)
    assert done.returncode == 5
    assert done.stderr.strip() == (f"Lỗi: «{title}» vẫn đang được dùng trong: ban-tin-sang. "
                                   "Hãy gỡ bản tin khỏi các chương trình đó trước.")
    with running.client("en") as client:
        response = client.delete(f"/v1/communes/{COMMUNE}/library/1")
    assert response.status_code == 409
    assert response.json()["code"] == "in_use"
    assert response.json()["message"] == (f"«{title}» is still used by: ban-tin-sang. Remove "
                                          "it from those programmes first.")
    assert running.rows() == rows and running.stored_files() == files

    # The slot is withdrawn by a later plan: nothing needs the item any more.
    running.sql("UPDATE planned_slot SET withdrawn_at = '2026-11-22 11:00:00.000000' "
                "WHERE slot_id = 's1'")
    deleted = running.operator.json("library", "delete", "1", "--yes")
    assert deleted["sha256"] == sha and deleted["title"] == title
    assert [i["sha256"] for i in items(running)] != [sha]
    # The other commune's row names the same audio: the file stays.
    assert running.stored_files() == files
    assert [i["sha256"] for i in items(running, OTHER)] == [sha]
    running.operator.json("library", "delete", sha[:12], "--yes", "--commune", OTHER)
    assert running.stored_files() == []
    assert list(running.content.glob(f"{sha[:2]}")) == []

    actions = [(e["action"], e["target"], e["commune"]) for e in running.operator.json(
        "audit", "--action", "library.", "--limit", "20")["entries"]]
    assert actions == [("library.delete", sha, OTHER), ("library.delete", sha, COMMUNE),
                       ("library.rename", sha, COMMUNE), ("library.import", sha, OTHER),
                       ("library.import", sha, COMMUNE)]


# ---------------------------------------------------------------------------- who may


def test_a_viewer_reads_but_cannot_change_the_library(setup: Setup,
                                                      other_bulletin: Path) -> None:
    running = setup.running
    token = setup.tokens["xem"]
    jobs_before = running.operator.json("library", "imports")
    with running.client(token=token) as client:
        assert client.get(f"/v1/communes/{COMMUNE}/library").status_code == 200
    forbidden = "Chỉ cán bộ vận hành và quản trị của xã mới được thay đổi thư viện của xã."
    response = running.upload(other_bulletin, token=token)
    assert response.status_code == 403
    assert response.json() == {"code": "forbidden", "message": forbidden, "details": []}
    assert list(running.uploads.iterdir()) == []
    assert running.operator.json("library", "imports") == jobs_before

    done = running.operator.run("--token", token, "library", "import", str(other_bulletin),
                                check=False)
    assert done.returncode == 3 and done.stderr.splitlines()[-1] == f"Lỗi: {forbidden}"
    # Something to try to rename and delete (imported by the admin: a positive control).
    added = running.operator.json("library", "import", str(other_bulletin))[0]["item"]
    for args in (("rename", str(added["id"]), "Tên khác"), ("delete", str(added["id"]),
                                                           "--yes")):
        done = running.operator.run("--token", token, "library", *args, check=False)
        assert done.returncode == 3 and done.stderr.strip() == f"Lỗi: {forbidden}"
    assert running.operator.json("library", "show", str(added["id"]))["title"] == "tiem-phong"


def test_another_communes_items_are_invisible(setup: Setup, bulletins: dict[str, Path]
                                              ) -> None:
    running = setup.running
    token = setup.tokens["vanhanh-ben"]
    demo_items = items(running)
    assert demo_items
    demo_job = running.operator.json("library", "imports")[0]["id"]
    with running.client(token=token) as client:
        for path in (f"/v1/communes/{COMMUNE}/library",
                     f"/v1/communes/{COMMUNE}/library/{demo_items[0]['sha256']}",
                     f"/v1/communes/{COMMUNE}/library/imports/{demo_job}",
                     f"/v1/communes/{COMMUNE}/content/transfers"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.json() == {"code": "not_found", "message": "Không tìm thấy.",
                                       "details": []}
        # Its own commune's job list does not show the other commune's job either.
        response = client.get(f"/v1/communes/{OTHER}/library/imports/{demo_job}")
        assert response.status_code == 404
    response = running.upload(bulletins["m4a"], token=token)
    assert response.status_code == 404
    # Its own commune, as an operator: allowed (the positive control).
    response = running.upload(bulletins["m4a"], commune=OTHER, token=token)
    assert response.status_code == 202
    job = running.job(response.json()["id"], commune=OTHER)
    assert job["state"] == "done" and job["item"]["imported_by"] == "vanhanh-ben"
    with running.client(token=token) as client:
        listed = client.get(f"/v1/communes/{OTHER}/library").json()
    assert [i["sha256"] for i in listed] == [job["item"]["sha256"]]
    with running.client(token=setup.tokens["xem"]) as client:
        assert client.get(f"/v1/communes/{OTHER}/library").status_code == 404
