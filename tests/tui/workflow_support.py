"""What the console's workflow tests share: a commune worth working on (villages,
clusters, agents, a real imported bulletin, users in other roles), a console logged in as
one of them, and SVG snapshots compared against the committed ones.

Snapshots live in ``tests/tui/snapshots/<name>.svg``. A missing one fails the test (a
golden file lost or never committed must not pass silently);
``LOAXA_UPDATE_SNAPSHOTS=1`` writes the missing ones and rewrites the others after an
intended change of the screens (then look at them before committing).
"""

from __future__ import annotations

import contextlib
import difflib
import html
import os
import re
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from controller.cli.client import ApiClient
from controller.settings import load_settings
from controller.tui import LoaxaConsole
from controller.tui.connection import Connection
from tests.support.station_process import running_station
from tests.tui.conftest import SLACK, ConsoleStation, stop_daemon

SNAPSHOTS = Path(__file__).with_name("snapshots")
PASSWORD = "mat-khau-du-dai-12"
VILLAGES = {"thon-1": "Thôn Một", "thon-2": "Thôn Hai"}
SHARED = pytest.StashKey[ConsoleStation]()


def tone(path: Path, seconds: float = 3.0, frequency: int = 440) -> Path:
    """A short real bulletin (a sine tone) as a WAV file."""
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}",
                    "-ar", "48000", str(path)], check=True, capture_output=True)
    return path


@dataclass
class Commune:
    """One commune of the shared station, furnished for one test module: two villages
    with a cluster and an active agent each, and one imported bulletin."""

    station: ConsoleStation
    key: str
    bulletin: dict[str, Any]

    def api(self) -> ApiClient:
        return self.station.api()

    def call(self, method: str, path: str, body: Any = None,
             params: dict[str, Any] | None = None) -> Any:
        api = self.station.api()
        try:
            return api.call(method, path, body=body, params=params)
        finally:
            api.close()

    def token(self, username: str, role: str, emergency: bool = False) -> str:
        """A user of this commune with one role; their login token."""
        self.call("POST", "/users", {"username": username, "password": PASSWORD})
        self.grant(username, role, emergency)
        answer = self.call("POST", "/auth/login", {"username": username,
                                                   "password": PASSWORD})
        return str(answer["token"])

    def grant(self, username: str, role: str, emergency: bool = False) -> None:
        self.call("POST", f"/users/{username}/grants",
                  {"unit": self.key, "role": role, "emergency": emergency})

    def console(self, token: str | None = None, language: str = "vi") -> LoaxaConsole:
        """A console on this commune, as the admin or the user of ``token``; it polls
        (no event stream) like a console built on a bare client."""
        socket = self.station.socket
        connection = Connection(lambda: ApiClient(socket=socket, token=token,
                                                  language=language))
        return LoaxaConsole(connection, commune=self.key)

    def import_file(self, path: Path, title: str | None = None) -> dict[str, Any]:
        """Through the API, as ``loaxa library import`` does; the finished job."""
        api = self.station.api()
        try:
            with path.open("rb") as handle:
                response = api.http.post(f"/v1/communes/{self.key}/library/imports",
                                         files={"file": (path.name, handle)},
                                         data={"title": title} if title else {})
            job = response.json()
            assert response.status_code == 202, job
            deadline = time.monotonic() + 60
            while job["state"] not in ("done", "refused", "failed"):
                assert time.monotonic() < deadline, job
                time.sleep(0.1)
                job = api.call("GET", f"/communes/{self.key}/library/imports/{job['id']}")
            return dict(job)
        finally:
            api.close()


def shared_station(request: pytest.FixtureRequest,
                   factory: pytest.TempPathFactory) -> ConsoleStation:
    """One controller for every workflow module of this test process (starting one
    takes seconds on a busy machine); each module works in a commune of its own."""
    found = request.config.stash.get(SHARED, None)
    if found is not None:
        return found
    stack = contextlib.ExitStack()
    request.config.add_cleanup(stack.close)
    operator, daemon, _log = stack.enter_context(running_station(
        factory.mktemp("workflows")))
    stack.callback(stop_daemon, daemon)  # first: SIGTERM stops its Mosquitto too
    station = ConsoleStation(operator, daemon, operator.config,
                             load_settings(operator.config).api_socket)
    request.config.stash[SHARED] = station
    return station


def furnish(request: pytest.FixtureRequest, factory: pytest.TempPathFactory,
            key: str, name: str) -> Commune:
    """A new commune on the shared station, with villages, clusters, agents and a
    bulletin; the station's admin administers it."""
    station = shared_station(request, factory)
    commune = Commune(station, key, {})
    call = commune.call
    call("POST", "/units", {"key": key, "level": "commune", "name": name})
    commune.grant("admin", "admin")
    call("POST", f"/communes/{key}/stations", {"key": f"{key}-dai", "name": "Đài xã",
                                              "kind": "ip"})
    for n, (village, village_name) in enumerate(VILLAGES.items(), start=1):
        call("POST", "/units", {"key": f"{key}-{village}", "level": "village",
                                "name": village_name, "parent": key})
        call("POST", f"/communes/{key}/clusters", {
            "key": f"{key}-cum-{n}", "name": f"Cụm {n}", "kind": "ip",
            "station": f"{key}-dai", "village": f"{key}-{village}"})
        call("POST", f"/communes/{key}/agents", {"id": f"{key}-may-{n}",
                                                 "cluster": f"{key}-cum-{n}"})
    database = load_settings(station.config).station.data_dir / "loaxa.db"
    with sqlite3.connect(database) as conn:  # as if they had claimed their codes
        conn.execute("UPDATE agent SET status = 'active' WHERE id LIKE ?", (f"{key}-%",))
    folder = factory.mktemp(key)
    job = commune.import_file(tone(folder / "ban-tin-sang.wav"), "Bản tin sáng")
    assert job["state"] == "done", job
    commune.bulletin = job["item"]
    return commune


# ---------------------------------------------------------------------------- snapshots

#: How long a screen may take to settle into its golden image before it differs.
SETTLE_S = 5 * SLACK

DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
CLOCK = re.compile(r"\b\d\d:\d\d(:\d\d)?\b")


def normalised(svg: str, masks: Iterable[re.Pattern[str]]) -> str:
    """The SVG with each volatile text (a match of a mask) replaced by as many ``#`` as
    it has characters on the screen (the layout does not move), and Rich's
    content-derived ids made constant."""
    for mask in masks:
        svg = mask.sub(lambda m: "#" * len(html.unescape(m.group(0))), svg)
    return re.sub(r"terminal-\d+", "terminal", svg)


async def assert_snapshot(pilot: Pilot[None], name: str,
                          masks: Iterable[re.Pattern[str]] = ()) -> None:
    """The screen as an SVG, the same as ``snapshots/<name>.svg``: no toasts, no
    blinking cursor, volatile text masked."""
    app = pilot.app
    app.clear_notifications()
    for field in app.screen.query(Input):
        field.cursor_blink = False
    path = SNAPSHOTS / f"{name}.svg"
    if os.environ.get("LOAXA_UPDATE_SNAPSHOTS") == "1":
        await pilot.pause(1.0)  # let every pending refresh (the footer's keys) land
        path.parent.mkdir(exist_ok=True)
        path.write_text(normalised(app.export_screenshot(title="loaxa"), masks),
                        encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(f"{name}: no golden snapshot {path}; LOAXA_UPDATE_SNAPSHOTS=1 "
                             "records it (look at it, then commit it)")
    expected = path.read_text(encoding="utf-8")
    # A loaded machine may take a moment to paint the last refresh (e.g. the footer's
    # keys after a screen is pushed): the screen has a few seconds to settle.
    deadline = time.monotonic() + SETTLE_S
    while True:
        await pilot.pause(0.1)
        svg = normalised(app.export_screenshot(title="loaxa"), masks)
        if svg == expected or time.monotonic() > deadline:
            break
    if svg != expected:
        failed = Path(tempfile.gettempdir()) / f"loaxa-{name}.svg"
        failed.write_text(svg, encoding="utf-8")
        raise AssertionError(f"{name}: the screen differs from {path} (it is now {failed}; "
                             "LOAXA_UPDATE_SNAPSHOTS=1 accepts it)\n"
                             + text_difference(expected, svg))


def screen_lines(svg: str) -> list[str]:
    """The text an SVG screenshot shows, row by row (what a CI log can print)."""
    rows: dict[float, list[str]] = {}
    for m in re.finditer(r'<text[^>]*?y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows.setdefault(float(m.group(1)), []).append(html.unescape(m.group(2)))
    return ["".join(parts).replace("\xa0", " ").rstrip() for _, parts in sorted(rows.items())]


def text_difference(expected: str, actual: str) -> str:
    """What differs between two screenshots, as a text diff of their rows (or a note that
    only colours or styles differ)."""
    diff = list(difflib.unified_diff(screen_lines(expected), screen_lines(actual),
                                     "golden", "now", lineterm=""))
    return "\n".join(diff) if diff else "the text is the same: colours or styles differ"
