"""``loaxa schedule`` and ``loaxa broadcast emergency`` against the running API, in-process
through the CLI's own entry (its error handling included), as different users; the
no-traceback checks also run the real executable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controller.api.app import create_app
from controller.api.server import ApiServer
from controller.cli.app import run
from tests.station.kit import map_unix_user

from .conftest import Commune

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    commune: Commune
    socket: Path
    capsys: pytest.CaptureFixture[str]

    def __call__(self, user: str, *args: str) -> Result:
        map_unix_user(self.commune.kit, "root", user)
        self.capsys.readouterr()
        code = run(["--socket", str(self.socket), *args])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, user: str, *args: str) -> Any:
        result = self(user, *args, "--json")
        assert result.code == 0, result.err
        return result.json()

    def process(self, *args: str) -> Result:
        env = {**os.environ, "LOAXA_LANG": "vi", "LOAXA_SOCKET": str(self.socket),
               "XDG_STATE_HOME": str(self.socket.parent / "state")}
        done = subprocess.run([sys.executable, "-m", "controller.cli.entry", *args],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(sqlite_commune: Commune, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    socket = tmp_path / "api.sock"
    server = ApiServer(create_app(sqlite_commune.kit.services), uds=socket)
    server.start()
    yield Cli(sqlite_commune, socket, capsys)
    server.stop()


X = ("--commune", "xa-a")
SANG = ("schedule", "add", *X, "--id", "sang", "--title", "Tin sáng", "--item",
        "Bản tin sáng", "--daily", "--at", "05:00")
CLASH = ("schedule", "add", *X, "--id", "nhac", "--title", "Nhạc", "--item", "Nhạc chờ",
         "--daily", "--at", "05:02")


def test_conflicts_are_shown_and_resolved_from_the_cli(cli: Cli) -> None:
    made = cli("op-a", *SANG)
    assert made.code == 0 and "Đã tạo bản nháp sang" in made.out
    refused = cli("op-a", "schedule", "approve", "sang", *X)
    assert refused.code == 3 and "Chỉ người phê duyệt" in refused.err
    approved = cli("appr-a", "schedule", "approve", "sang", *X)
    assert approved.code == 0 and "Đã duyệt sang" in approved.out
    human = cli("op-a", *CLASH)
    assert human.code == 5 and human.out == ""
    assert "Lỗi: Chương trình nhac xung đột" in human.err
    assert "trùng giờ với sang" in human.err and "--resolve append" in human.err
    machine = cli("op-a", *CLASH, "--json")
    assert machine.code == 5
    error = machine.json()["error"]
    assert error["code"] == "schedule_conflict"
    assert [c["kind"] for c in error["conflicts"]] == ["overlap"] * 7  # one a day
    assert cli.ok("op-a", "schedule", "list", *X)[0]["key"] == "sang"  # nothing stored
    accepted = cli("op-a", *CLASH, "--resolve", "append")
    assert accepted.code == 0 and "đã chấp nhận" in accepted.out
    assert cli.ok("op-a", "schedule", "show", "nhac", *X)["placement"] == "append"
    overriding = cli.ok("op-a", "schedule", "add", *X, "--id", "bao", "--title", "Bão",
                        "--item", "b" * 64, "--daily", "--at", "05:03", "--priority",
                        "priority", "--resolve", "override")
    assert (overriding["placement"], overriding["priority"]) == ("override", "priority")
    checked = cli("op-a", "schedule", "check", *X, "--title", "Thử", "--item", "c" * 64,
                  "--daily", "--at", "23:00")
    assert checked.code == 0 and "Không có xung đột" in checked.out


def test_sessions_programmes_a_day_and_a_plan(cli: Cli) -> None:
    session = cli.ok("op-a", "schedule", "session", "add", "sang", *X, "--start", "05:00",
                     "--cap", "45", "--weekdays", "mon,tue,wed,thu,fri", "--name", "Sáng")
    assert session["weekdays"] == ["mon", "tue", "wed", "thu", "fri"]
    listed = cli("viewer-a", "schedule", "session", "list", *X)
    assert listed.code == 0 and "05:00:00" in listed.out and "Giới hạn (phút)" in listed.out
    cli.ok("op-a", "schedule", "add", *X, "--id", "sang", "--title", "Tin sáng", "--item",
           "Bản tin sáng", "--weekly", "mon,tue,wed,thu,fri", "--session", "sang")
    cli.ok("op-a", "schedule", "add", *X, "--id", "bao", "--title", "Tin bão", "--item",
           "Tin bão số 3", "--every", "60", "--start", "2026-01-02 06:00", "--end",
           "2026-01-02 09:00", "--villages", "thon-a2")
    for key in ("sang", "bao"):
        cli.ok("appr-a", "schedule", "approve", key, *X)
    edited = cli("op-a", "schedule", "edit", "sang", *X, "--title", "Tin sáng mới")
    assert edited.code == 0 and "phiên bản 2" in edited.out
    shown = cli("op-a", "schedule", "show", "sang", *X)
    assert "bản nháp" in shown.out and "đã duyệt" in shown.out
    day = cli("viewer-a", "schedule", "timeline", *X, "--date", "2026-01-02")
    assert day.code == 0, day.err
    assert "05:00:00-05:05:00" in day.out and "06:00:00-06:02:00" in day.out
    assert "Tin sáng" in day.out and "thon-a2" in day.out
    entries = cli.ok("viewer-a", "schedule", "timeline", *X, "--date", "2026-01-02")[
        "entries"]
    assert [(e["programme"], len(e["agents"])) for e in entries] == [
        ("sang", 3), ("bao", 1), ("bao", 1), ("bao", 1)]
    plan = cli("viewer-a", "schedule", "plan", "ag-1")
    assert plan.code == 0 and "Chưa gửi kế hoạch phát nào đến ag-1" in plan.out
    assert cli.ok("viewer-a", "schedule", "plan", "ag-1")["version"] is None
    pinned = cli("op-a", "schedule", "pin", "b" * 64, *X, "--note", "bão")
    assert pinned.code == 0 and "Tin bão số 3" in pinned.out
    assert [p["note"] for p in cli.ok("op-a", "schedule", "pins", *X)] == ["bão"]
    withdrawn = cli("op-a", "schedule", "withdraw", "bao", *X, "--yes")
    assert withdrawn.code == 0
    deleted = cli("op-a", "schedule", "delete", "sang", *X, "--yes")
    assert deleted.code == 0
    assert cli.ok("op-a", "schedule", "list", *X, "--status", "approved")[0]["key"] == "sang"


def test_emergencies_from_the_cli(cli: Cli) -> None:
    forbidden = cli("op-a", "broadcast", "emergency", "start", *X, "--title", "Tin bão số 3",
                    "--all")
    assert forbidden.code == 3 and "quyền phát khẩn cấp" in forbidden.err
    usage = cli("em-a", "broadcast", "emergency", "start", *X, "--title", "Tin bão số 3")
    assert usage.code == 2 and "--villages a,b hoặc --all" in usage.err
    started = cli("em-a", "broadcast", "emergency", "start", *X, "--title", "Tin bão số 3",
                  "--villages", "thon-a2", "--repeat-every", "10", "--volume", "90",
                  "--no-tone")
    assert started.code == 0, started.err
    assert "đang phát" in started.out and "emergency ack" in started.out
    [emergency] = cli.ok("appr-a", "broadcast", "emergency", "list", *X, "--unacknowledged")
    assert (emergency["villages"], emergency["repeat_every_s"], emergency["volume"],
            emergency["attention_tone"]) == (["thon-a2"], 600, 90, False)
    listed = cli("appr-a", "broadcast", "emergency", "list", *X)
    assert "đang phát" in listed.out and emergency["id"] in listed.out
    assert cli("em-a", "broadcast", "emergency", "stop", *X).code == 0
    assert cli("em-a", "broadcast", "emergency", "stop", *X).code == 5  # nothing on air
    acked = cli("appr-a", "broadcast", "emergency", "ack", emergency["id"], *X, "--note",
                "ổn")
    assert acked.code == 0 and emergency["id"] in acked.out
    assert cli.ok("appr-a", "broadcast", "emergency", "list", *X, "--unacknowledged") == []


@pytest.mark.parametrize("args", [
    ("schedule", "add", *X, "--title", "T", "--item", "x", "--daily", "--at", "99:99"),
    ("schedule", "add", *X, "--title", "T", "--daily"),
    ("schedule", "add", *X, "--title", "T", "--item", "x", "--daily", "--weekly", "mon"),
    ("schedule", "add", *X, "--title", "T", "--item", "x", "--every", "5"),
    ("schedule", "session", "add", "k", *X, "--start", "abc", "--cap", "5"),
    ("schedule", "approve", "khong-co", *X),
    ("schedule", "plan", "ag-9"),
    ("broadcast", "emergency", "start", *X, "--content", "zz", "--all"),
    ("broadcast", "emergency", "ack", "em-x", *X),
])
def test_bad_input_is_a_message_and_an_exit_code_never_a_traceback(
        cli: Cli, args: tuple[str, ...]) -> None:
    map_unix_user(cli.commune.kit, "root", "appr-a")
    done = cli.process(*args)
    assert done.code != 0
    assert "Traceback" not in done.err + done.out
    assert done.err.strip()
