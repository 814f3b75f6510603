"""The recovery commands that work on the database directly, run as the real executable:
``loaxa admin reset-password`` and ``loaxa backup bump-epoch``."""

from __future__ import annotations

import json
from pathlib import Path

from controller.cli.errors import EXIT_DENIED, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_USAGE
from tests.station.kit import PASSWORD

from .conftest import Result, Station
from .test_errors import no_traceback

NEW_PASSWORD = "mật khẩu mới 2026"


def settings_for(loaxa: Station, tmp_path: Path) -> Path:
    """The station's settings file: its database (the one the API serves) and data dir."""
    path = tmp_path / "loaxa.toml"
    path.write_text(f"""
[station]
commune = "xa-a"
data_dir = "{tmp_path / 'data'}"

[database]
url = "{loaxa.kit.db.url.render_as_string(hide_password=False)}"

[api]
socket = "{loaxa.socket}"
""", encoding="utf-8")
    return path


def login(loaxa: Station, username: str, password: str) -> Result:
    return loaxa.process("login", "-u", username, "--password-stdin", "--json",
                         stdin=password + "\n")


def test_reset_password_lets_a_disabled_user_log_in_again(loaxa: Station,
                                                           tmp_path: Path) -> None:
    config = settings_for(loaxa, tmp_path)
    users = loaxa.kit.services.users
    users.update(loaxa.kit.who("admin"), "tech-a", disabled=True)
    assert login(loaxa, "tech-a", PASSWORD).code == EXIT_DENIED  # disabled
    assert login(loaxa, "tech-a", NEW_PASSWORD).code == EXIT_DENIED  # not its password yet

    reset = loaxa.process("admin", "reset-password", "-c", str(config), "tech-a",
                          "--password-stdin", "--json", stdin=NEW_PASSWORD + "\n")
    assert reset.code == 0, reset.err
    assert json.loads(reset.out) == {"username": "tech-a", "password_set": True}

    logged_in = login(loaxa, "tech-a", NEW_PASSWORD)
    assert logged_in.code == 0, logged_in.err
    assert logged_in.json()["username"] == "tech-a" and logged_in.json()["token"]
    assert login(loaxa, "tech-a", PASSWORD).code == EXIT_DENIED  # the old one is gone
    assert not users.get(loaxa.kit.who("admin"), "tech-a").disabled
    actions = {(e["action"], e["target"]) for e in loaxa.ok("audit", "--limit", "20")["entries"]}
    assert {("user.password", "tech-a"), ("user.update", "tech-a")} <= actions


def test_reset_password_of_nobody_is_a_clean_error(loaxa: Station, tmp_path: Path) -> None:
    config = str(settings_for(loaxa, tmp_path))
    unknown = loaxa.process("admin", "reset-password", "-c", config, "nobody",
                            "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert unknown.code == EXIT_NOT_FOUND
    no_traceback(unknown)
    assert "Không có người dùng nobody." in unknown.err
    english = loaxa.process("admin", "reset-password", "-c", config, "nobody",
                            "--password-stdin", lang="en", stdin=NEW_PASSWORD + "\n")
    assert english.code == EXIT_NOT_FOUND and "No user nobody." in english.err
    short = loaxa.process("admin", "reset-password", "-c", config, "tech-a",
                          "--password-stdin", stdin="short\n")
    assert short.code == EXIT_REFUSED and "Mật khẩu phải dài" in short.err
    no_traceback(short)
    empty = loaxa.process("admin", "reset-password", "-c", config, "tech-a",
                          "--password-stdin", stdin="")
    assert empty.code == EXIT_USAGE
    no_traceback(empty)
    assert login(loaxa, "tech-a", PASSWORD).code == 0  # nothing changed


def test_bump_epoch_json(loaxa: Station, tmp_path: Path) -> None:
    config = str(settings_for(loaxa, tmp_path))
    before = loaxa.ok("keys", "list", "xa-a")["epoch"]
    bumped = loaxa.process("backup", "bump-epoch", "-c", config, "--json")
    assert bumped.code == 0, bumped.err
    assert bumped.json() == {"epochs": {"xa-a": before + 1, "xa-b": before + 1}}
    assert loaxa.ok("keys", "list", "xa-a")["epoch"] == before + 1

    told = loaxa.process("backup", "bump-epoch", "-c", config, "--epoch-above", "40",
                         "--json")
    assert told.code == 0, told.err
    assert told.json() == {"epochs": {"xa-a": 41, "xa-b": 41}}
    record = json.loads((tmp_path / "data" / "signing-epochs.json").read_text())
    assert record == {"epochs": {"xa-a": 41, "xa-b": 41}}

    human = loaxa.process("backup", "bump-epoch", "-c", config)
    assert human.code == 0 and "Kỳ ký của xa-a giờ là 42." in human.out

    bad = loaxa.process("backup", "bump-epoch", "-c", config, "--epoch-above", "zero")
    assert bad.code == EXIT_USAGE
    no_traceback(bad)
    (tmp_path / "data" / "signing-epochs.json").write_text("{damaged")
    damaged = loaxa.process("backup", "bump-epoch", "-c", config, "--json")
    assert damaged.code == EXIT_REFUSED
    assert "signing-epochs.json" in json.loads(damaged.out)["error"]["message"]
    assert loaxa.ok("keys", "list", "xa-a")["epoch"] == 42  # refused: nothing moved


def test_the_daemon_refuses_bad_api_and_database_settings(loaxa: Station,
                                                          tmp_path: Path) -> None:
    """What used to fail at start as an untranslated "Unexpected error: ValueError" (or,
    for a TCP listener without TLS, to serve tokens in clear) is a named setting."""
    for lines, key in (('[api]\ntcp_bind = "nonsense"\n', "api.tcp_bind"),
                       ('[api]\ntcp_bind = "0.0.0.0:8443"\n', "api.tcp_bind"),
                       ('[database]\nurl = "mysql://loaxa:hunter2@db/loaxa"\n',
                        "database.url")):
        config = tmp_path / "bad.toml"
        config.write_text(f'[station]\ndata_dir = "{tmp_path / "daemon"}"\n{lines}')
        result = loaxa.process("controller", "run", "-c", str(config))
        assert result.code == EXIT_USAGE, result.err
        assert key in result.err and "hunter2" not in result.err
        no_traceback(result)
    assert not (tmp_path / "daemon").exists()  # refused before touching anything
