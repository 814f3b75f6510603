"""`loaxa demo`: a whole commune on the embedded defaults, end to end, in under a minute.

A station (SQLite in a data directory, a private Mosquitto it starts itself) comes up;
the sample commune is registered through the operator API; each IP cluster's agent is
enrolled with a one-time code and started as a real agent process. Two recordings go
into the library; a storm bulletin is programmed a few seconds ahead for three villages
(aired twice), approved, and pinned with the emergency bulletin for the whole commune,
so both reach every agent's cache (the content service's per-agent distribution view
says so, and each agent's own telemetry). One targeted village is cut
off before air time: every targeted agent airs the bulletin on time by its own clock,
and the cut-off one's proof of play arrives once its link is back, with the journal it
kept meanwhile. An emergency interrupts the second airing in two villages. The run ends
with the ministry's indicator table, an HTML report in the data directory, and a fleet
and uptime summary (``--json`` for machines).
"""

from __future__ import annotations

import datetime as dt
import getpass
import math
import shutil
import socket
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, select

from ..cli.client import ApiClient
from ..daemon import Daemon, Station
from ..i18n import _, current_language
from ..registry.bootstrap import init_admin
from ..settings import BackupSettings, BrokerSettings, DataPlaneSettings, Settings, StationSettings
from ..storage.tables.fleet import AvailabilitySpan, JournalRecord
from . import commune as sample
from .fleet import DemoAgent
from .media import MediaError, speak
from .plays import PlaySeen, clock_text, find, outcome_word, plays_of

Say = Callable[[str], None]
RECORDS: Table = JournalRecord.__table__  # type: ignore[attr-defined]
SPANS: Table = AvailabilitySpan.__table__  # type: ignore[attr-defined]
# The bulletin is programmed this far ahead of its approval: the planner's debounce, the
# plan's way to the agents and the content's transfer fit in it with room to spare.
LEAD_S = 10.0
# The emergency starts this long into the bulletin's second airing.
EMERGENCY_INTO_S = 1.0
REPORTS_DIR = "reports"


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
class Item:
    """A library item the demo imported."""

    title: str
    sha256: str
    duration_ms: int
    speech_lufs: float


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
    user: str = field(default_factory=getpass.getuser)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Ho_Chi_Minh"))
    imports: dict[str, str] = field(default_factory=dict)  # title -> import job
    items: dict[str, Item] = field(default_factory=dict)  # title -> item
    slots: list[tuple[str, int]] = field(default_factory=list)  # (slot id, start ns)
    plan_versions: dict[str, str] = field(default_factory=dict)  # agent -> epoch.version

    # ------------------------------------------------------------------ helpers
    def step(self, text: str) -> None:
        self.say(f"[{time.monotonic() - self.started:5.1f} s] {text}")

    def detail(self, text: str, wrap: bool = False) -> None:
        for line in (textwrap.wrap(text, 78) if wrap else [text]) or [""]:
            self.say(f"          {line}")

    def call(self, method: str, path: str, body: Any = None,
             params: dict[str, Any] | None = None) -> Any:
        assert self.api is not None
        return self.api.call(method, path, body=body, params=params)

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

    def plays(self, agents: list[DemoAgent]) -> list[PlaySeen]:
        assert self.station is not None
        return plays_of(self.station.db, [a.agent_id for a in agents])

    def telemetry(self, agent_id: str) -> dict[str, Any]:
        """The agent's last full telemetry, as the station's fleet link holds it."""
        assert self.station is not None
        fleet: Any = self.station.extras.get("fleet")
        state = fleet.presence.get([agent_id]).get(agent_id) if fleet is not None else None
        return dict(state.telemetry) if state is not None else {}

    @property
    def commune_path(self) -> str:
        return f"/communes/{sample.COMMUNE}"

    @property
    def victim(self) -> DemoAgent:
        return self.agents[0]

    def targeted(self) -> list[DemoAgent]:
        return [a for a in self.agents if village_of(a.cluster) in sample.BULLETIN_VILLAGES]

    def in_emergency(self) -> list[DemoAgent]:
        return [a for a in self.agents if village_of(a.cluster) in sample.EMERGENCY_VILLAGES]

    def now_ns(self) -> int:
        return time.time_ns()

    def clock(self, ns: int) -> str:
        return clock_text(ns, self.zone)

    # ------------------------------------------------------------------ the story
    def run(self) -> dict[str, Any]:
        try:
            self.start_station()
            self.register_commune()
            self.start_imports()
            self.enrol_agents()
            self.finish_imports()
            self.programme_bulletin()
            self.wait_cached()
            self.cut_off()
            self.first_airing()
            self.emergency()
            self.restore()
            self.report()
            return self.summarise()
        finally:
            self.shut_down()

    def start_station(self) -> None:
        settings = demo_settings(self.data_dir)
        self.zone = ZoneInfo(settings.station.timezone)
        self.step(_("Starting the station of {commune} (SQLite in {path}, private "
                    "Mosquitto on port {port})").format(commune=sample.COMMUNE_NAME,
                                                        path=self.data_dir,
                                                        port=settings.broker.port))
        self.daemon = Daemon(settings)
        self.station = self.daemon.start()
        init_admin(self.station.db, self.station.bus, self.station.time, self.user,
                   unix_user=self.user)
        self.api = ApiClient(socket=settings.api_socket, language=current_language())

    def register_commune(self) -> None:
        self.step(_("Registering {villages} villages, {stations} stations and {clusters} "
                    "clusters through the operator API").format(
            villages=len(sample.VILLAGES), stations=len(sample.STATIONS),
            clusters=len(sample.CLUSTERS)))
        for key, name in sample.VILLAGES:
            self.call("POST", "/units", {"key": key, "level": "village", "name": name,
                                         "parent": sample.COMMUNE})
        for key, name, kind in sample.STATIONS:
            self.call("POST", f"{self.commune_path}/stations",
                      {"key": key, "name": name, "kind": kind})
        for cluster in sample.CLUSTERS:
            self.call("POST", f"{self.commune_path}/clusters",
                      {"key": cluster.key, "name": cluster.name, "kind": cluster.kind,
                       "station": cluster.station, "village": cluster.village})

    def start_imports(self) -> None:
        """Record the two bulletins and upload them; the library processes them while
        the agents are being enrolled."""
        recordings = self.data_dir / "recordings"
        self.step(_("Recording two bulletins (espeak-ng) and uploading them to the "
                    "library: «{bulletin}» and «{emergency}»").format(
            bulletin=sample.BULLETIN.title, emergency=sample.EMERGENCY.title))
        assert self.api is not None
        for bulletin in (sample.BULLETIN, sample.EMERGENCY):
            try:
                path = speak(bulletin.text, recordings / f"{bulletin.key}.wav")
            except MediaError as error:
                raise DemoError(_("Could not record the bulletins: {error}").format(
                    error=error)) from None
            with path.open("rb") as handle:
                response = self.api.http.post(
                    f"/v1{self.commune_path}/library/imports",
                    files={"file": (path.name, handle, "audio/wav")},
                    data={"title": bulletin.title, "chime": "false"})
            if response.status_code != 202:
                raise DemoError(_("The library refused {name}: {answer}").format(
                    name=path.name, answer=response.text[:300]))
            self.imports[bulletin.title] = response.json()["id"]

    def enrol_agents(self) -> None:
        ip_clusters = [c for c in sample.CLUSTERS if c.kind == "ip"]
        self.step(_("Enrolling {count} agents with one-time codes (loaxa agent enroll)")
                  .format(count=len(ip_clusters)))
        self.agents = [DemoAgent(c.key, self.data_dir / "agents" / c.key) for c in ip_clusters]
        codes = [self.call("POST", f"{self.commune_path}/enrolment-codes",
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

    def finish_imports(self) -> None:
        jobs: dict[str, dict[str, Any]] = {}

        def finished() -> bool:
            for title, job_id in self.imports.items():
                if jobs.get(title, {}).get("state") not in ("done", "refused", "failed"):
                    jobs[title] = self.call("GET",
                                            f"{self.commune_path}/library/imports/{job_id}")
            return all(j["state"] in ("done", "refused", "failed") for j in jobs.values())

        self.wait(finished, 90, _("the library to process the recordings"))
        for title, job in jobs.items():
            if job["state"] != "done" or job.get("item") is None:
                error = (job.get("error") or {}).get("message") or job["state"]
                raise DemoError(_("The library could not import «{title}»: {error}").format(
                    title=title, error=error))
            item = job["item"]
            self.items[title] = Item(title, item["sha256"], item["duration_ms"],
                                     item["speech_lufs"])
            self.step(_("«{title}» is in the library: {seconds:.1f} s of Opus, speech at "
                        "{lufs:.1f} LUFS").format(title=title,
                                                  seconds=item["duration_ms"] / 1000,
                                                  lufs=item["speech_lufs"]))

    def programme_bulletin(self) -> None:
        bulletin = self.items[sample.BULLETIN.title]
        alert = self.items[sample.EMERGENCY.title]
        # Approval is an editorial act: even the administrator needs the approver role.
        self.call("POST", f"/users/{self.user}/grants",
                  {"unit": sample.COMMUNE, "role": "approver"})
        # Pinned for the whole commune: every agent caches both, also where the bulletin
        # does not air today (an operator may add a village at the last minute).
        for item in (alert, bulletin):
            self.call("POST", f"{self.commune_path}/pins",
                      {"content": item.sha256, "note": item.title})
        at = dt.datetime.fromtimestamp(math.ceil(time.time() + LEAD_S), self.zone)
        self.call("POST", f"{self.commune_path}/programmes", {
            "key": sample.BULLETIN.key, "title": sample.BULLETIN.title,
            "items": [{"content": bulletin.sha256}],
            "recurrence": {"kind": "once", "on": at.date().isoformat(),
                           "at": at.time().isoformat(timespec="seconds")},
            "villages": sample.BULLETIN_VILLAGES, "priority": "priority",
            "repeat": sample.BULLETIN_REPEAT, "repeat_gap_s": sample.BULLETIN_GAP_S,
            # No later restart: an airing that is interrupted stays interrupted.
            "max_delay_minutes": 0})
        approved = self.call("POST", f"{self.commune_path}/programmes/"
                                     f"{sample.BULLETIN.key}/approve")
        self.step(_("Programmed «{title}» for {villages} at {time}, twice, and approved "
                    "it as {user}; it and «{alert}» are pinned for the whole commune, so "
                    "every agent caches both")
                  .format(title=bulletin.title, villages=", ".join(sample.BULLETIN_VILLAGES),
                          time=at.strftime("%H:%M:%S"), user=approved["approved_by"],
                          alert=alert.title))
        targeted = self.targeted()
        plans: dict[str, dict[str, Any]] = {}

        def published() -> bool:
            for agent in targeted:
                plan = self.call("GET", f"/agents/{agent.agent_id}/plan")
                if any(s["programme"] == sample.BULLETIN.key for s in plan["slots"]):
                    plans[agent.agent_id] = plan
            return len(plans) == len(targeted)

        self.wait(published, 60, _("the plans with the bulletin to be published"))
        first = plans[targeted[0].agent_id]
        ours = sorted((s for s in first["slots"] if s["programme"] == sample.BULLETIN.key),
                      key=lambda s: s["start"])
        self.slots = [(s["slot_id"], int(dt.datetime.fromisoformat(s["start"]).timestamp()
                                         * 1e9)) for s in ours]
        self.plan_versions = {a: p["version"] for a, p in plans.items()}
        self.summary["bulletin"] = {
            "title": bulletin.title, "content": bulletin.sha256,
            "duration_ms": bulletin.duration_ms, "programme": sample.BULLETIN.key,
            "villages": sample.BULLETIN_VILLAGES, "approved_by": approved["approved_by"],
            "slots": [{"slot": slot, "start": self.iso(start)} for slot, start in self.slots],
            "targeted": [a.agent_id for a in targeted]}

    def iso(self, ns: int) -> str:
        return dt.datetime.fromtimestamp(ns / 1e9, self.zone).isoformat(
            timespec="milliseconds")

    def wait_cached(self) -> None:
        """Every agent holds both pinned items, by the content service's distribution view
        of the bulletin and by the agent's own telemetry; every targeted one has applied
        the plan with the bulletin's airings."""
        targeted = {a.agent_id for a in self.targeted()}
        bulletin = self.items[sample.BULLETIN.title]
        reached: set[str] = set()

        def cached(agent: DemoAgent) -> bool:
            telemetry = self.telemetry(agent.agent_id)
            cache = telemetry.get("cache") or {}
            if cache.get("missing") != 0 or cache.get("items", 0) < 2:
                return False
            if agent.agent_id not in targeted:
                return True
            applied = (telemetry.get("applied") or {}).get("plan") or {}
            epoch, _dot, version = self.plan_versions[agent.agent_id].partition(".")
            return (applied.get("epoch"), applied.get("version")) >= (int(epoch), int(version))

        def everywhere() -> bool:
            view = self.call("GET", f"{self.commune_path}/library/{bulletin.sha256}/"
                                    "distribution")
            reached.clear()
            reached.update(a["agent_id"] for a in view["agents"] if a["state"] == "cached")
            return all(a.agent_id in reached and cached(a) for a in self.agents)

        air_ns = self.slots[0][1]
        self.wait(everywhere, max(5.0, (air_ns - self.now_ns()) / 1e9),
                  _("the bulletin to reach every agent's cache before air time"))
        self.step(_("«{title}» reached the caches of {reached}/{count} agents {seconds:.1f} s "
                    "before air time (content service over ZeroMQ, soonest airing first)")
                  .format(title=bulletin.title, reached=len(reached), count=len(self.agents),
                          seconds=(air_ns - self.now_ns()) / 1e9))
        self.summary["bulletin"]["caches"] = {
            "agents": len(self.agents), "reached": len(reached), "cached_on": sorted(reached)}

    def cut_off(self) -> None:
        victim = self.victim
        self.step(_("Cutting {cluster} ({agent}) off the network, as a dead 4G cell would")
                  .format(cluster=victim.cluster, agent=victim.agent_id))
        self.summary["outage"] = {"agent": victim.agent_id, "cluster": victim.cluster,
                                  "records_before": self.records_of(victim.agent_id)}
        victim.cut_off()
        took = self.wait(lambda: self.connectivity().get(victim.agent_id) == "offline", 30,
                         _("the cut-off agent to be seen offline"))
        self.step(_("The station sees it offline after {seconds:.1f} s (keepalive, then "
                    "its delayed Last Will); it keeps journalling on its own").format(
            seconds=took))

    def airing_line(self, agent: DemoAgent, play: PlaySeen | None) -> str:
        if play is None:
            return _("{cluster:<13} {agent:<12} cut off: its proof of play will come when "
                     "the network is back").format(cluster=agent.cluster,
                                                   agent=agent.agent_id)
        if play.first_sample_ns is None:
            return _("{cluster:<13} {agent:<12} scheduled {scheduled}, {outcome}").format(
                cluster=agent.cluster, agent=agent.agent_id,
                scheduled=self.clock(play.scheduled_ns), outcome=outcome_word(play.outcome))
        return _("{cluster:<13} {agent:<12} scheduled {scheduled}, first sample "
                 "{actual} ({error:+.1f} ms), {outcome}").format(
            cluster=agent.cluster, agent=agent.agent_id,
            scheduled=self.clock(play.scheduled_ns), actual=self.clock(play.first_sample_ns),
            error=play.start_error_ms, outcome=outcome_word(play.outcome))

    def first_airing(self) -> None:
        slot, start = self.slots[0]
        duration_s = self.items[sample.BULLETIN.title].duration_ms / 1000
        connected = [a for a in self.targeted() if a is not self.victim]
        self.step(_("Air time {time}: «{title}» airs in {count} villages, each agent by "
                    "its own clock from its own cache").format(
            time=self.clock(start), title=sample.BULLETIN.title,
            count=len(sample.BULLETIN_VILLAGES)))
        timeout = max(0.0, (start - self.now_ns()) / 1e9) + duration_s + 30

        def heard() -> bool:
            plays = self.plays(connected)
            return all(find(plays, a.agent_id, slot) is not None for a in connected)

        self.wait(heard, timeout, _("the play records of the first airing"))
        plays = self.plays(self.targeted())
        self.step(_("Play records reaching the station (scheduled start, and the first "
                    "sample the sound card presented):"))
        for agent in self.targeted():
            self.detail(self.airing_line(agent, find(plays, agent.agent_id, slot)))

    def emergency(self) -> None:
        slot, start = self.slots[1]
        item = self.items[sample.EMERGENCY.title]
        duration_ns = self.items[sample.BULLETIN.title].duration_ms * 10**6
        go_ns = start + int(EMERGENCY_INTO_S * 1e9)
        self.wait(lambda: self.now_ns() >= go_ns,
                  max(0.0, (go_ns - self.now_ns()) / 1e9) + 5,
                  _("the second airing"))
        if self.now_ns() > start + duration_ns - 10**9:
            raise DemoError(_("The second airing was over before the emergency could "
                              "interrupt it; this machine is too busy for the demo."))
        started = self.call("POST", f"{self.commune_path}/emergencies", {
            "content": item.sha256, "villages": sample.EMERGENCY_VILLAGES,
            "repeat_every_minutes": 0, "attention_tone": True})
        self.step(_("Second airing on the air: {user} starts an emergency «{title}» in "
                    "{villages} (the emergency permission needs no approval)").format(
            user=started["started_by"], title=item.title,
            villages=", ".join(sample.EMERGENCY_VILLAGES)))
        prefix = f"emergency:{started['id']}:"
        hit, others = self.in_emergency(), [a for a in self.targeted()
                                            if a not in self.in_emergency()
                                            and a is not self.victim]

        def heard() -> bool:
            plays = self.plays(self.agents)
            return all(find(plays, a.agent_id, slot) is not None
                       and any(p.agent_id == a.agent_id and p.slot_id.startswith(prefix)
                               for p in plays) for a in hit) and \
                all(find(plays, a.agent_id, slot) is not None for a in others)

        timeout = (start + duration_ns - self.now_ns()) / 1e9 + item.duration_ms / 1000 + 30
        self.wait(heard, timeout, _("the play records of the emergency"))
        stopped = self.call("POST", f"{self.commune_path}/emergencies/stop")
        self.call("POST", f"{self.commune_path}/emergencies/{started['id']}/acknowledge",
                  {"note": _("Storm warning aired in the demo.")})
        plays = self.plays(self.agents)
        self.step(_("Play records of the second airing and of the emergency:"))
        emergency_rows = []
        for agent in self.targeted():
            if agent is self.victim:
                continue
            self.detail(self.airing_line(agent, find(plays, agent.agent_id, slot)))
            for play in plays:
                if play.agent_id == agent.agent_id and play.slot_id.startswith(prefix):
                    self.detail(_("{cluster:<13} {agent:<12} emergency: first sample {actual}, "
                                  "{outcome}").format(
                        cluster=agent.cluster, agent=agent.agent_id,
                        actual=self.clock(play.first_sample_ns)
                        if play.first_sample_ns else "—",
                        outcome=outcome_word(play.outcome)))
                    emergency_rows.append(play.as_dict(self.zone))
        self.step(_("Emergency stopped and acknowledged by {user} (both audited)").format(
            user=stopped["stopped_by"] or self.user))
        self.summary["emergency"] = {
            "id": started["id"], "title": item.title, "content": item.sha256,
            "villages": sample.EMERGENCY_VILLAGES, "interrupted_slot": slot,
            "started_at": started["started_at"], "stopped_at": stopped["stopped_at"],
            "agents": [a.agent_id for a in hit],
            "preempted": [p.as_dict(self.zone) for p in plays
                          if p.slot_id == slot and p.agent_id in {a.agent_id for a in hit}],
            "airings": emergency_rows}

    def restore(self) -> None:
        victim = self.victim
        during = self.records_of(victim.agent_id)
        restored_at = dt.datetime.now(dt.UTC)
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
                    "was cut off, with its proof of play:").format(count=after - during))
        plays = self.plays([victim])
        for slot, _start in self.slots:
            self.detail(self.airing_line(victim, find(plays, victim.agent_id, slot)))
        self.summary["outage"].update({"records_during": during, "records_after": after,
                                       "backfilled": after - during,
                                       "restored_at": restored_at.isoformat()})
        everything = self.plays(self.targeted())
        self.summary["bulletin"]["airings"] = [
            {**play.as_dict(self.zone), "cluster": agent.cluster,
             "village": village_of(agent.cluster), "repetition": n,
             "cut_off": agent is victim}
            for agent in self.targeted() for n, (slot, _start) in enumerate(self.slots)
            if (play := find(everything, agent.agent_id, slot)) is not None]

    def report(self) -> None:
        """The ministry's indicator table for today, and the same report as HTML."""
        assert self.station is not None and self.api is not None
        today = self.station.time.today()
        legacy = [c for c in sample.CLUSTERS if c.kind != "ip"]
        for cluster in legacy:
            self.call("POST", f"{self.commune_path}/attestations",
                      {"target": "cluster", "key": cluster.key, "start": today.isoformat(),
                       "note": _("Checked on site by the operator.")})
        self.step(_("The operator attests the {count} wired and FM clusters operational "
                    "(indicator 1 accepts them on the operator's word, audited)").format(
            count=len(legacy)))
        params = {"from": today.isoformat(), "to": today.isoformat(),
                  "unit": sample.COMMUNE, "lang": current_language()}
        document = self.call("GET", "/reports/indicators", params={**params,
                                                                  "format": "json"})
        response = self.api.http.get("/v1/reports/indicators",
                                     params={**params, "format": "html"})
        if response.status_code != 200:
            raise DemoError(_("The station could not make the HTML report: {answer}").format(
                answer=response.text[:300]))
        name = response.headers.get("content-disposition", "").partition("filename=")[2]
        name = Path(name.strip('"') or f"indicators-{today.isoformat()}.html").name
        html = self.data_dir / REPORTS_DIR / name
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_bytes(response.content)
        self.step(_("Indicator report for {day} (definition {definition}), as the ministry's "
                    "table; HTML report written to {path}").format(
            day=today.isoformat(), definition=document["definition"]["version"], path=html))
        definition = document["definition"]
        self.detail(_("A village is reached when one of its IP clusters was available for "
                      "at least {availability} of the service window so far ({window}) and "
                      "aired at least {aired} of the items targeted at it, or when a legacy "
                      "cluster of it is attested.").format(
            availability=f"{definition['village_threshold']:.0%}",
            aired=f"{definition['airing_threshold']:.0%}",
            window=definition["service_window"]), wrap=True)
        self.summary["indicators"] = {
            "definition": document["definition"]["version"],
            "title": document["title"], "day": today.isoformat(),
            "service_window": document["definition"]["service_window"],
            "lines": [{k: line[k] for k in ("stt", "code", "content", "value", "display",
                                            "numerator", "denominator")}
                      for line in document["indicators"]],
            "villages": [{"village": v["key"], "name": v["name"], "reached": v["reached"],
                          "basis": v["basis"], "best_availability": v["best_availability"],
                          "targeted": v["targeted"], "aired": v["aired"]}
                         for v in document["villages"]],
            "html": str(html)}

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
            "language": current_language(),
            "elapsed_s": round(time.monotonic() - self.started, 1),
            "villages": fleet["villages"], "stations_by_kind": fleet["stations_by_kind"],
            "clusters_by_kind": fleet["clusters_by_kind"],
            "agents": [{"agent": a.agent_id, "cluster": a.cluster,
                        "village": village_of(a.cluster),
                        "connectivity": states.get(a.agent_id, "unknown"),
                        "records": self.records_of(a.agent_id),
                        "available_s": available.get(a.agent_id, 0.0)} for a in self.agents],
            "finished_at": dt.datetime.now(dt.UTC).isoformat()})
        return self.summary

    def shut_down(self) -> None:
        for agent in self.agents:  # all at once: each takes a moment to close its journal
            agent.terminate()
        for agent in self.agents:
            agent.stop()
        if self.api is not None:
            self.api.close()
        if self.daemon is not None:
            self.daemon.stop()


def village_of(cluster: str) -> str:
    return next(c.village for c in sample.CLUSTERS if c.key == cluster)


def _journal_length(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])


def run_demo(data_dir: Path | None, say: Say) -> dict[str, Any]:
    """Run the story. Without ``data_dir`` the station lives in a temporary directory
    that is removed afterwards, all but its ``reports`` folder (the HTML report)."""
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        return Demo(data_dir.resolve(), say).run()
    scratch = Path(tempfile.mkdtemp(prefix="loaxa-demo-"))
    try:
        summary = Demo(scratch, say).run()
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    for child in scratch.iterdir():
        if child.name != REPORTS_DIR:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    return summary
