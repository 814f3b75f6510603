"""`loaxa demo`: a whole commune on the embedded defaults, end to end, in under a minute.

A station (SQLite in a data directory, a private Mosquitto it starts itself) comes up;
the sample commune is registered through the operator API; each IP cluster's agent is
enrolled with a one-time code and started as a real agent process; one village is cut
off and shown going offline, then brought back and shown backfilling its journal; the
run ends with a fleet and uptime summary (``--json`` for machines).
"""

from __future__ import annotations

import datetime as dt
import getpass
import socket
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select

from ..cli.client import ApiClient
from ..daemon import Daemon, Station
from ..i18n import _
from ..registry.bootstrap import init_admin
from ..settings import BackupSettings, BrokerSettings, DataPlaneSettings, Settings, StationSettings
from ..storage.tables.fleet import AvailabilitySpan, JournalRecord
from . import commune as sample
from .fleet import DemoAgent

Say = Callable[[str], None]
RECORDS: Table = JournalRecord.__table__  # type: ignore[attr-defined]
SPANS: Table = AvailabilitySpan.__table__  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_settings(data_dir: Path) -> Settings:
    return Settings(
        station=StationSettings(commune=sample.COMMUNE, name=sample.COMMUNE_NAME,
                                data_dir=data_dir),
        broker=BrokerSettings(port=free_port()),
        dataplane=DataPlaneSettings(bind_host="127.0.0.1", public_host="127.0.0.1",
                                    content_port=free_port(), clock_port=free_port(),
                                    enrol_port=free_port()),
        backup=BackupSettings(interval_hours=0))


class DemoError(RuntimeError):
    """A step of the demo did not happen in time; the message says which."""


@dataclass
class Demo:
    data_dir: Path
    say: Say
    started: float = field(default_factory=time.monotonic)
    daemon: Daemon | None = None
    station: Station | None = None
    api: ApiClient | None = None
    agents: list[DemoAgent] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ helpers
    def step(self, text: str) -> None:
        self.say(f"[{time.monotonic() - self.started:5.1f} s] {text}")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        assert self.api is not None
        return self.api.call(method, path, body=body)

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> float:
        began = time.monotonic()
        while not condition():
            if time.monotonic() - began > timeout:
                raise DemoError(_("The demo gave up waiting: {what}").format(what=what))
            time.sleep(0.2)
        return time.monotonic() - began

    def connectivity(self) -> dict[str, str]:
        agents = self.call("GET", "/agents")
        return {a["id"]: a["live"]["connectivity"] for a in agents if a["status"] == "active"}

    def records_of(self, agent_id: str) -> int:
        assert self.station is not None
        with self.station.db.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(RECORDS).where(
                RECORDS.c.agent_id == agent_id)).scalar_one())

    # ------------------------------------------------------------------ the story
    def run(self) -> dict[str, Any]:
        try:
            self.start_station()
            self.register_commune()
            self.enrol_agents()
            self.cut_and_restore()
            return self.summarise()
        finally:
            self.shut_down()

    def start_station(self) -> None:
        settings = demo_settings(self.data_dir)
        self.step(_("Starting the station of {commune} (SQLite in {path}, private "
                    "Mosquitto on port {port})").format(commune=sample.COMMUNE_NAME,
                                                        path=self.data_dir,
                                                        port=settings.broker.port))
        self.daemon = Daemon(settings)
        self.station = self.daemon.start()
        user = getpass.getuser()
        init_admin(self.station.db, self.station.bus, self.station.time, user, unix_user=user)
        self.api = ApiClient(socket=settings.api_socket)

    def register_commune(self) -> None:
        self.step(_("Registering {villages} villages, {stations} stations and {clusters} "
                    "clusters through the operator API").format(
            villages=len(sample.VILLAGES), stations=len(sample.STATIONS),
            clusters=len(sample.CLUSTERS)))
        for key, name in sample.VILLAGES:
            self.call("POST", "/units", {"key": key, "level": "village", "name": name,
                                         "parent": sample.COMMUNE})
        for key, name, kind in sample.STATIONS:
            self.call("POST", f"/communes/{sample.COMMUNE}/stations",
                      {"key": key, "name": name, "kind": kind})
        for cluster in sample.CLUSTERS:
            self.call("POST", f"/communes/{sample.COMMUNE}/clusters",
                      {"key": cluster.key, "name": cluster.name, "kind": cluster.kind,
                       "station": cluster.station, "village": cluster.village})

    def enrol_agents(self) -> None:
        ip_clusters = [c for c in sample.CLUSTERS if c.kind == "ip"]
        self.step(_("Enrolling {count} agents with one-time codes (loaxa agent enroll)")
                  .format(count=len(ip_clusters)))
        self.agents = [DemoAgent(c.key, self.data_dir / "agents" / c.key) for c in ip_clusters]
        codes = [self.call("POST", f"/communes/{sample.COMMUNE}/enrolment-codes",
                           {"cluster": agent.cluster}) for agent in self.agents]
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda pair: pair[0].enrol(pair[1]["command"]),
                          zip(self.agents, codes, strict=True)))
        assert self.station is not None
        port = self.station.settings.broker.port
        for agent in self.agents:
            agent.start(port)
        took = self.wait(lambda: set(self.connectivity().values()) == {"online"}, 45,
                         _("every agent online"))
        self.step(_("{count} agents online after {seconds:.1f} s").format(
            count=len(self.agents), seconds=took))

    def cut_and_restore(self) -> None:
        victim = self.agents[0]
        self.step(_("Cutting {cluster} ({agent}) off the network, as a dead 4G cell would")
                  .format(cluster=victim.cluster, agent=victim.agent_id))
        before = self.records_of(victim.agent_id)
        victim.cut_off()
        took = self.wait(lambda: self.connectivity().get(victim.agent_id) == "offline", 30,
                         _("the cut-off agent to be seen offline"))
        self.step(_("The station sees it offline after {seconds:.1f} s (keepalive, then "
                    "its delayed Last Will); it keeps journalling on its own").format(
            seconds=took))
        time.sleep(4.0)
        during = self.records_of(victim.agent_id)
        victim.reconnect()
        self.step(_("Network restored"))
        self.wait(lambda: self.connectivity().get(victim.agent_id) == "online", 30,
                  _("the agent to come back online"))
        journal = victim.data_dir / "journal.db"
        target = _journal_length(journal)
        self.wait(lambda: self.records_of(victim.agent_id) >= target, 30,
                  _("the backlog to reach the station"))
        after = self.records_of(victim.agent_id)
        self.step(_("Back online; its journal backfilled {count} records kept while it "
                    "was cut off").format(count=after - during))
        self.summary["outage"] = {"agent": victim.agent_id, "cluster": victim.cluster,
                                  "records_before": before, "records_during": during,
                                  "records_after": after, "backfilled": after - during}

    def summarise(self) -> dict[str, Any]:
        assert self.station is not None
        fleet = self.call("GET", "/fleet/summary")
        with self.station.db.engine.connect() as conn:
            spans = conn.execute(select(
                SPANS.c.agent_id, func.sum(SPANS.c.end_mono_ns - SPANS.c.start_mono_ns))
                .group_by(SPANS.c.agent_id)).all()
        available = {agent_id: round((total or 0) / 1e9, 1) for agent_id, total in spans}
        states = self.connectivity()
        self.summary.update({
            "commune": sample.COMMUNE, "data_dir": str(self.data_dir),
            "elapsed_s": round(time.monotonic() - self.started, 1),
            "villages": fleet["villages"], "stations_by_kind": fleet["stations_by_kind"],
            "clusters_by_kind": fleet["clusters_by_kind"],
            "agents": [{"agent": a.agent_id, "cluster": a.cluster,
                        "connectivity": states.get(a.agent_id, "unknown"),
                        "records": self.records_of(a.agent_id),
                        "available_s": available.get(a.agent_id, 0.0)} for a in self.agents],
            "finished_at": dt.datetime.now(dt.UTC).isoformat()})
        return self.summary

    def shut_down(self) -> None:
        for agent in self.agents:
            agent.stop()
        if self.api is not None:
            self.api.close()
        if self.daemon is not None:
            self.daemon.stop()


def _journal_length(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])


def run_demo(data_dir: Path | None, say: Say) -> dict[str, Any]:
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        return Demo(data_dir.resolve(), say).run()
    with tempfile.TemporaryDirectory(prefix="loaxa-demo-") as tmp:
        return Demo(Path(tmp), say).run()
