"""A second indicator definition, or a changed one, reports its own service window.

Rollups are keyed by the service window. A definition whose window differs from the one
the records were rolled up for (here a copy of loaxa-2024.1 whose window opens at 05:00)
must get its rollups built from the stored spans, and kept current afterwards — never
read as "no rollups, 0 %".

Hand arithmetic for the 05:00-21:30 window (16.5 h a day, 66 h over the four days),
from the stories in ``scenario.py``:

* ag-a1: e2 10-30 (16.5 h) + 10-31 05:00-20:00 (15); e1 11-01 06:00-21:30 (15.5) +
  11-02 (16.5): 31.5 + 32 = 63.5 h; out 10-31 20:00-21:30 and 11-01 05:00-06:00: 2.5 h.
* ag-a2: its reboot 10-30 03:00-05:00 now ends as the window opens (0 h); only
  11-02 21:00-21:30 is down: 65.5 h at e1.
* ag-a3: e0 10-30 08:00-10:00 (2 h); unanchored 11-01 (16.5 h); e1 the rest: 47.5 h.
* ag-a4: e3 all along: 66 h.
* ag-b1: 10-30 05:00-21:00 (16 h), nothing on 10-31, 11-01 and 11-02 (33 h): 49 h.

The villages come out as with the default window (a1 63.5/66 = 96 % with 10/10 aired,
a4 66/66 with 9/10, b1 49/66 = 74 %), so xa-a is đạt and xa-b is not; read from missing
rollups, every IP village would fail and the province would show 0 of 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from controller.cli.app import run
from controller.fleet.ingest import Delivery, JournalIngest
from controller.reports.builder import ReportBuilder, Request
from controller.reports.period import Period
from controller.storage.database import Database
from controller.storage.tables.uptime import UptimeDay
from controller.uptime.definition import BUNDLED, IndicatorDefinition, load_definition
from controller.uptime.indexer import AiringIndexer
from controller.uptime.rollup import RollupMaintainer
from controller.uptime.windows import registered
from protocols.clock import ManualClock
from tests.support.databases import BACKENDS, database_url

from . import scenario
from .test_scenario_figures import EXPECTED_AGENTS

H = 3_600_000  # ms
W = int(4 * 16.5 * H)
EXPECTED_0500 = {
    # agent: (e0, e1, e2, e3, unanchored, up at >= e1, targeted, aired)
    "ag-a1": (0, 32 * H, 31.5 * H, 0, 0, 63.5 * H, 10, 10),
    "ag-a2": (0, 65.5 * H, 0, 0, 0, 65.5 * H, 0, 0),
    "ag-a3": (2 * H, 47.5 * H, 0, 0, 16.5 * H, 47.5 * H, 4, 1),
    "ag-a4": (0, 0, 0, 66 * H, 0, 66 * H, 10, 9),
    "ag-b1": (0, 49 * H, 0, 0, 0, 49 * H, 8, 6),
}
OUTAGES_0500 = {  # agent: ms in the window, outage by outage
    "ag-a1": [2.5 * H], "ag-a2": [0, 0, H // 2], "ag-a3": [2 * H, 16.5 * H],
    "ag-b1": [17 * H],
}


def definition_0500(tmp_path: Path) -> IndicatorDefinition:
    text = (BUNDLED / "loaxa-2024.1.toml").read_text()
    changed = text.replace('version = "loaxa-2024.1"', 'version = "test-2024.1-05h"') \
        .replace('start = "04:30"', 'start = "05:00"')
    assert changed.count("05:00") == 1 and "test-2024.1-05h" in changed
    path = tmp_path / "test-2024.1-05h.toml"
    path.write_text(changed)
    return load_definition(path)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with database_url(request.param, tmp_path) as url:
        database = Database(url)
        database.upgrade()
        yield database
        database.dispose()


def install(db: Database) -> tuple[scenario.Fleet, dict[str, int]]:
    fleet = scenario.Fleet.build()
    ids = scenario.install_registry(db)
    scenario.install_plans(db, fleet, ids, [a for agents in scenario.COMMUNE_AGENTS.values()
                                            for a in agents])
    return fleet, ids


def index_airings(db: Database, ids: dict[str, int]) -> None:
    clock = ManualClock(wall_ns=int(scenario.NOW.timestamp()) * 10**9)
    for commune in scenario.COMMUNE_AGENTS:
        AiringIndexer(db, ids[commune], scenario.DEFINITION.window.tz, clock).catch_up()


def commune_of(agent: str, ids: dict[str, int]) -> int:
    return next(ids[c] for c, members in scenario.COMMUNE_AGENTS.items() if agent in members)


def store(db: Database, ids: dict[str, int], deliveries: list[tuple[str, object]],
          maintainer: RollupMaintainer) -> None:
    ingest = JournalIngest(db, rollups=maintainer)
    for agent, batch in deliveries:
        ingest.store([Delivery(agent, commune_of(agent, ids), batch)])  # type: ignore[arg-type]


def report(db: Database, definition: IndicatorDefinition):  # type: ignore[no-untyped-def]
    return ReportBuilder(db).build(Request(Period(*scenario.PERIOD), definition, scenario.NOW,
                                           unit="tinh-a", outages=True, airings=True))


def figures(data) -> dict[str, tuple[int, ...]]:  # type: ignore[no-untyped-def]
    return {a.agent_id: (*a.by_level, a.unanchored_ms, a.up_ms, a.targeted, a.aired)
            for a in data.agents}


def assert_0500(data) -> None:  # type: ignore[no-untyped-def]
    assert data.meta.definition == "test-2024.1-05h"
    assert data.meta.window_ms == W
    assert figures(data) == {k: tuple(int(v) for v in values)
                             for k, values in EXPECTED_0500.items()}
    for agent in data.agents:
        assert agent.window_ms == W and agent.up_ms + agent.outage_ms == W
    outages: dict[str, list[int]] = {}
    for outage in data.outages:
        outages.setdefault(outage.agent_id, []).append(outage.in_window_ms)
    assert outages == {k: [int(v) for v in values] for k, values in OUTAGES_0500.items()}
    assert {v.key: v.reached for v in data.villages} == {
        "thon-a1": True, "thon-a2": True, "thon-a3": True, "thon-b1": False,
        "thon-b2": True, "thon-c1": False}
    assert {c.key: c.dat for c in data.communes} == {"xa-a": True, "xa-b": False}
    assert (data.region.communes_dat, len(data.region.communes)) == (1, 2)
    assert (data.region.converted, data.region.stations) == (2, 4)


def test_a_second_definition_reports_its_own_window_and_stays_current(
        db: Database, tmp_path: Path) -> None:
    fleet, ids = install(db)
    late = [(agent, batch) for agent, batch in fleet.deliveries()
            if batch.journal_id == scenario.journal("b1-new")]
    early = [(agent, batch) for agent, batch in fleet.deliveries()
             if batch.journal_id != scenario.journal("b1-new")]
    assert late and early
    live = RollupMaintainer(scenario.DEFINITION.window, db.dialect)  # the station's own
    store(db, ids, early, live)
    index_airings(db, ids)
    second = definition_0500(tmp_path)

    before = report(db, second)  # its first report builds its window's rollups
    b1 = next(a for a in before.agents if a.agent_id == "ag-b1")
    assert b1.up_ms == 16 * H  # the old journal only: 10-30 05:00-21:00
    assert second.window.key in {w.window_key for w in registered(db)}

    # ag-b1's reflashed journal arrives afterwards, through the station's own maintainer:
    # the registered second window is refreshed with it.
    store(db, ids, late, live)
    index_airings(db, ids)
    assert_0500(report(db, second))
    default = report(db, scenario.DEFINITION)  # and the default one is unchanged
    assert figures(default) == {k: tuple(int(v) for v in values[:8])
                                for k, values in EXPECTED_AGENTS.items()}
    assert {w.window_key for w in registered(db)} == {scenario.DEFINITION.window.key,
                                                      second.window.key}


def test_a_changed_configured_definition_is_built_whole(db: Database, tmp_path: Path) -> None:
    """A collector configured with the default definition, then with the 05:00 one:
    records stored before the change were never rolled up for 05:00."""
    fleet, ids = install(db)
    second = definition_0500(tmp_path)
    deliveries = fleet.deliveries()
    half = len(deliveries) // 2
    store(db, ids, deliveries[:half], RollupMaintainer(scenario.DEFINITION.window, db.dialect))
    store(db, ids, deliveries[half:], RollupMaintainer(second.window, db.dialect))
    index_airings(db, ids)
    with db.engine.connect() as conn:  # the control: what the new maintainer alone made
        partial = conn.execute(select(func.sum(UptimeDay.up_ms_e1)).where(
            UptimeDay.window_key == second.window.key)).scalar() or 0
    assert 0 < partial < sum(int(v[1]) for v in EXPECTED_0500.values())
    assert_0500(report(db, second))


def test_rebuild_windows_and_forget_from_the_cli(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'loaxa.db'}"
    settings = tmp_path / "station.toml"
    settings.write_text(f'[station]\ncommune = "xa-a"\ndata_dir = "{tmp_path / "data"}"\n'
                        f'[database]\nurl = "{url}"\n')
    database = Database(url)
    database.upgrade()
    fleet, ids = install(database)
    store(database, ids, fleet.deliveries(),
          RollupMaintainer(scenario.DEFINITION.window, database.dialect))
    index_airings(database, ids)
    second = definition_0500(tmp_path)
    definition_path = str(tmp_path / "test-2024.1-05h.toml")

    def loaxa(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = loaxa("uptime", "rebuild", "--definition", definition_path, "-c",
                           str(settings), "--json")
    assert code == 0, err
    built = json.loads(out)
    assert (built["window"], built["definition"]) == ("0500-2130@Asia/Ho_Chi_Minh",
                                                      "test-2024.1-05h")
    assert built["boots"] == 2 + 3 + 3 + 1 + 2 and built["days"] > 0  # boots per agent
    # Ahead of time: the report now only reads. Damage the rollups to prove it ...
    with database.engine.begin() as conn:
        conn.execute(delete(UptimeDay).where(UptimeDay.window_key == second.window.key,
                                             UptimeDay.agent_id == "ag-a4"))
    damaged = report(database, second)
    assert next(a for a in damaged.agents if a.agent_id == "ag-a4").up_ms < 66 * H
    # ... and a rebuild repairs them.
    code, _, err = loaxa("uptime", "rebuild", "--definition", definition_path, "-c",
                         str(settings))
    assert code == 0, err
    assert_0500(report(database, second))

    code, out, err = loaxa("uptime", "windows", "-c", str(settings), "--json")
    assert code == 0, err
    assert [(w["window"], w["definition"]) for w in json.loads(out)] == [
        ("0500-2130@Asia/Ho_Chi_Minh", "test-2024.1-05h")]
    code, out, err = loaxa("uptime", "forget", "0500-2130@Asia/Ho_Chi_Minh", "-c",
                           str(settings))
    assert code == 0, err
    assert registered(database) == []
    with database.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(UptimeDay).where(
            UptimeDay.window_key == second.window.key)).scalar() == 0
    code, _, err = loaxa("uptime", "forget", "0500-2130@Asia/Ho_Chi_Minh", "-c",
                         str(settings))
    assert code == 2 and "0500-2130@Asia/Ho_Chi_Minh" in err
    code, _, err = loaxa("uptime", "rebuild", "--definition", "no-such-1", "-c",
                         str(settings))
    assert code == 2 and "no-such-1" in err
    assert_0500(report(database, second))  # forgotten, then asked for: built again
    assert [w.window_key for w in registered(database)] == [second.window.key]
    database.dispose()


def test_a_definition_in_another_time_zone_is_refused(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """Airings are indexed in the configured definition's zone: a report counting days
    in another one would find none of them, so it is refused with the reason."""
    url = f"sqlite:///{tmp_path / 'loaxa.db'}"
    settings = tmp_path / "station.toml"
    settings.write_text(f'[station]\ncommune = "xa-a"\ndata_dir = "{tmp_path / "data"}"\n'
                        f'[database]\nurl = "{url}"\n')
    text = (BUNDLED / "loaxa-2024.1.toml").read_text()
    bangkok = tmp_path / "bangkok.toml"
    bangkok.write_text(text.replace('tz = "Asia/Ho_Chi_Minh"', 'tz = "Asia/Bangkok"')
                       .replace('version = "loaxa-2024.1"', 'version = "test-bkk"'))
    same_zone = tmp_path / "same.toml"
    same_zone.write_text(text.replace('version = "loaxa-2024.1"', 'version = "test-same"'))
    capsys.readouterr()
    code = run(["report", "indicators", "--local", "-c", str(settings), "--from",
                "2026-10-30", "--definition", str(bangkok), "--lang", "en"])
    _, err = capsys.readouterr()
    assert code != 0 and "Asia/Bangkok" in err and "Asia/Ho_Chi_Minh" in err
    code = run(["report", "indicators", "--local", "-c", str(settings), "--from",
                "2026-10-30", "--definition", str(same_zone)])  # the positive control
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["definition"]["version"] == "test-same"

