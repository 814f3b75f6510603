"""A real terminal: ``loaxa tui`` in a detached tmux session at 80×24, driven with keys
(``send-keys``) and read back with ``capture-pane``, against the running controller with
a real agent — once logging in over TCP/TLS in Vietnamese, once on the local socket in
English (``LOAXA_LANG=en``), and once in English because the station's settings say so
(``[station] language``, over a Vietnamese ``LANG``)."""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.station_process import ROOT
from tests.tui.conftest import PASSWORD, SLACK, FleetStation

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("tmux") is None,
                                 reason="tmux is not installed: no real-terminal test")]


SERVERS = itertools.count()  # one tmux server per console, never reused


class Terminal:
    """One tmux server of our own (``-L``), one session, one window of 80×24."""

    def __init__(self, server: str) -> None:
        self.server = server

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.server, *args], capture_output=True,
                              text=True, timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "console")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "console", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "console", "-l", text)

    def wait(self, condition: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout * SLACK
        while True:
            screen = self.screen()
            if condition(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen}")
            time.sleep(0.2)

    def alive(self) -> bool:
        done = subprocess.run(["tmux", "-L", self.server, "has-session", "-t", "console"],
                              capture_output=True, timeout=10)
        return done.returncode == 0


@contextmanager
def console_in_tmux(fleet: FleetStation, state: Path, *args: str,
                    language: str | None = "vi", config: Path | None = None,
                    locale: str = "C.UTF-8") -> Iterator[Terminal]:
    """``language`` is ``LOAXA_LANG`` (None: unset); ``locale`` is ``LANG``."""
    terminal = Terminal(f"loaxa-test-{os.getpid()}-{next(SERVERS)}")
    command = [sys.executable, "-m", "controller.cli.entry", "-c",
               str(config or fleet.config), *args, "tui"]
    environment = {"XDG_STATE_HOME": str(state), "LANG": locale,
                   "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    if language is not None:
        environment["LOAXA_LANG"] = language
    shell = " ".join([f"cd {shlex.quote(str(ROOT))} &&", "env", "-u", "LOAXA_LANG",
                      "-u", "LANGUAGE", "-u", "LC_ALL", "-u", "LC_MESSAGES",
                      *(f"{k}={shlex.quote(v)}" for k, v in environment.items()),
                      *map(shlex.quote, command),
                      "; echo EXITED $?; sleep 30"])  # keep the pane to read a failure
    terminal.tmux("-f", "/dev/null", "new-session", "-d", "-s", "console", "-x", "80",
                  "-y", "24", shell)
    try:
        yield terminal
    finally:
        subprocess.run(["tmux", "-L", terminal.server, "kill-server"], capture_output=True,
                       timeout=10)


def agent_row(screen: str, cluster: str) -> str:
    return next((line for line in screen.splitlines() if f" {cluster} " in line), "")


def test_log_in_navigate_and_see_live_state_in_a_real_terminal(
        fleet: FleetStation, tmp_path: Path) -> None:
    fleet.user("canbo", "operator")
    fleet.wait_online()
    with console_in_tmux(fleet, tmp_path, "--url", fleet.url, "--ca-file",
                         str(fleet.ca_file)) as terminal:
        terminal.wait(lambda s: "Đăng nhập vào đài" in s, "the login screen")
        terminal.type("canbo")
        terminal.wait(lambda s: "canbo" in s, "the user name typed")
        terminal.keys("Enter")  # to the password
        time.sleep(0.5)
        terminal.type(PASSWORD)
        terminal.wait(lambda s: "•" * len(PASSWORD) in s, "the password typed (hidden)")
        terminal.keys("Enter")
        screen = terminal.wait(lambda s: "trực tuyến" in agent_row(s, "c-dong"),
                               "the overview with the agent online")
        assert len(screen.splitlines()) <= 24
        assert all(len(line) <= 80 for line in screen.splitlines())
        for label in ("Tổng quan", "Thư viện", "Lịch phát", "Phát khẩn cấp", "Báo cáo",
                      "Thiết bị", "Đã kết nối: canbo, xã xa-demo", "Thôn Đông",
                      "Thôn Tây", "Tình trạng", "Lịch phát hôm nay", "Thoát"):
            assert label in screen, (label, screen)
        assert "chưa ghi danh" in agent_row(screen, "c-tay")
        assert "%" in agent_row(screen, "c-dong")  # the volume from its heartbeat
        terminal.keys("6")
        screen = terminal.wait(lambda s: "Sự kiện gần đây" in s and "Thiết bị (" in s
                               and "v Âm lượng" in s, "the Devices tab and its keys")
        assert "n Ghi danh" in screen and "b Khởi động lại" in screen
        # to the running agent: its generated id sorts above or below the other one
        for key in ["Up"] * 4 + ["Down"] * 8:
            if f"{fleet.agent_id}  cụm" in screen:
                break
            terminal.keys(key)
            time.sleep(0.3)
            screen = terminal.screen()
        screen = terminal.wait(lambda s: f"{fleet.agent_id}  cụm c-dong" in s
                               and "Tình trạng: trực tuyến" in s, "the agent's state")
        assert "Phần mềm: loaxa" in screen
        terminal.keys("1")
        terminal.wait(lambda s: "Lịch phát hôm nay" in s, "back to the overview")
        terminal.keys("q")
        screen = terminal.wait(lambda s: "EXITED" in s, "the console to quit")
        assert "EXITED 0" in screen and "Traceback" not in screen


def test_english_on_request(fleet: FleetStation, tmp_path: Path) -> None:
    fleet.wait_online()
    with console_in_tmux(fleet, tmp_path, language="en") as terminal:
        screen = terminal.wait(lambda s: "online" in agent_row(s, "c-dong"),
                               "the overview in English")
        for label in ("1 Overview", "6 Devices", "Connected as admin, commune xa-demo",
                      "Village", "Today on the air", "not enrolled", "Quit"):
            assert label in screen, (label, screen)
        assert "Tổng quan" not in screen
        terminal.keys("q")
        assert "EXITED 0" in terminal.wait(lambda s: "EXITED" in s, "the console to quit")


def test_english_by_the_stations_setting(fleet: FleetStation, tmp_path: Path) -> None:
    """No LOAXA_LANG, a Vietnamese LANG, the admin has no preference of their own:
    ``[station] language = "en"`` in the settings file decides."""
    fleet.wait_online()
    assert fleet.call("GET", "/me")["language"] is None
    settings = fleet.config.read_text(encoding="utf-8")
    assert "[station]\n" in settings and "language" not in settings
    english = tmp_path / "loaxa-en.toml"
    english.write_text(settings.replace("[station]\n", '[station]\nlanguage = "en"\n'),
                       encoding="utf-8")
    with console_in_tmux(fleet, tmp_path, language=None, config=english,
                         locale="vi_VN.UTF-8") as terminal:
        screen = terminal.wait(lambda s: "online" in agent_row(s, "c-dong"),
                               "the overview in English")
        for label in ("1 Overview", "6 Devices", "Today on the air", "Quit"):
            assert label in screen, (label, screen)
        assert "Tổng quan" not in screen
        terminal.keys("q")
        assert "EXITED 0" in terminal.wait(lambda s: "EXITED" in s, "the console to quit")
    # the control: the same console on the station's own settings speaks Vietnamese
    with console_in_tmux(fleet, tmp_path, language=None, locale="vi_VN.UTF-8") as terminal:
        screen = terminal.wait(lambda s: "trực tuyến" in agent_row(s, "c-dong"),
                               "the overview in Vietnamese")
        assert "1 Tổng quan" in screen and "Overview" not in screen
        terminal.keys("q")
        assert "EXITED 0" in terminal.wait(lambda s: "EXITED" in s, "the console to quit")
