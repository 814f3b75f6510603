"""Bad input gives a clear, translated message on stderr and a non-zero exit code, never
a traceback — checked on the real executable."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from controller.cli.errors import (
    EXIT_DENIED,
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)
from tests.station.kit import map_unix_user

from .conftest import Result, Station


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.err + result.out
    assert result.err.strip(), "an error must say something"


@pytest.mark.parametrize(("args", "code", "vietnamese"), [
    (["stations", "create", "xa-a", "Bad Key", "--name", "x", "--kind", "ip"], EXIT_REFUSED,
     "Lỗi: Yêu cầu không hợp lệ."),
    (["stations", "create", "xa-a", "st-a", "--name", "x", "--kind", "ip"], EXIT_REFUSED,
     "Ở đây đã có đài với mã st-a."),
    (["stations", "show", "xa-a", "st-zz"], EXIT_NOT_FOUND, "Xã này không có đài st-zz."),
    (["stations", "create", "xa-a", "st-q", "--kind", "ip"], EXIT_USAGE, "Thiếu --name."),
    (["stations", "create", "xa-a", "st-q", "--name", "x", "--kind", "am"], EXIT_USAGE,
     "Giá trị không hợp lệ cho --kind"),
    (["units", "tree", "--on", "yesterday"], EXIT_USAGE, "Giá trị không hợp lệ cho --on"),
    (["stations", "list", "--colour"], EXIT_USAGE, "Không có tuỳ chọn: --colour"),
    (["no-such-command"], EXIT_USAGE, "Dùng lệnh sai"),
])
def test_bad_input_in_the_real_executable(loaxa: Station, args: list[str], code: int,
                                          vietnamese: str) -> None:
    result = loaxa.process(*args)
    assert result.code == code, result.err
    no_traceback(result)
    assert vietnamese in result.err


def test_english_on_request(loaxa: Station) -> None:
    result = loaxa.process("stations", "show", "xa-a", "st-zz", lang="en")
    assert result.code == EXIT_NOT_FOUND
    assert "Error: No station st-zz in this commune." in result.err


def test_json_errors_for_scripts(loaxa: Station) -> None:
    result = loaxa.process("stations", "show", "xa-a", "st-zz", "--json")
    assert result.code == EXIT_NOT_FOUND
    assert json.loads(result.out)["error"]["code"] == "not_found"
    no_traceback(result)


def test_refused_permission_and_unknown_peer(loaxa: Station) -> None:
    map_unix_user(loaxa.kit, "root", "viewer-a")
    denied = loaxa.process("stations", "create", "xa-a", "st-q", "--name", "x", "--kind", "ip")
    assert denied.code == EXIT_DENIED and "không có quyền" in denied.err
    map_unix_user(loaxa.kit, "root", None)
    unknown = loaxa.process("whoami")
    assert unknown.code == EXIT_DENIED and "root" in unknown.err
    no_traceback(unknown)


def test_controller_unreachable(loaxa: Station, tmp_path: Path) -> None:
    result = loaxa.process("--socket", str(tmp_path / "nothing.sock"), "stations", "list")
    assert result.code == EXIT_UNAVAILABLE
    assert "Không kết nối được bộ điều khiển" in result.err
    no_traceback(result)


def test_a_socket_that_is_not_the_api(loaxa: Station, tmp_path: Path) -> None:
    path = tmp_path / "rude.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()

    def rude() -> None:
        connection, _ = server.accept()
        connection.sendall(b"\x00\xffgarbage\r\n\r\n")
        connection.close()

    thread = threading.Thread(target=rude, daemon=True)
    thread.start()
    result = loaxa.process("--socket", str(path), "stations", "list")
    server.close()
    assert result.code == EXIT_UNAVAILABLE
    no_traceback(result)


def test_bad_settings_file(loaxa: Station, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[station]\ncommune = 'Not Valid'\ncolour = 1\n")
    result = loaxa.process("admin", "init", "-c", str(config))
    assert result.code == EXIT_USAGE
    assert "station.colour" in result.err and "station.commune" in result.err
    no_traceback(result)
    missing = loaxa.process("admin", "init", "-c", str(tmp_path / "none.toml"))
    assert missing.code == EXIT_USAGE and "Không tìm thấy tệp cấu hình" in missing.err


def test_passwords_need_a_terminal_or_stdin(loaxa: Station) -> None:
    result = loaxa.process("users", "create", "someone")
    assert result.code == EXIT_USAGE and "--password-stdin" in result.err
    no_traceback(result)


def test_revoke_asks_first(loaxa: Station) -> None:
    loaxa.kit.services.agents.create(loaxa.kit.who("admin"), "xa-a", "ag-q")
    result = loaxa.process("agents", "revoke", "ag-q")
    assert result.code == EXIT_USAGE and "--yes" in result.err
    assert loaxa.ok("agents", "show", "ag-q")["status"] == "pending"
