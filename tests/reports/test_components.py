"""The station daemon's two new components, built from a station as the daemon builds
them: the alert evaluator (always) and the regional forwarder (only when enabled)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from controller.alerts.component import AlertComponent, thresholds_from
from controller.broker.pki import CertificateAuthority
from controller.collector.component import ForwardComponent
from controller.events import EventBus
from controller.registry.timebase import StationTime
from controller.storage.database import Database
from protocols.clock import ManualClock
from tests.station.kit import make_settings

from . import scenario

CA = CertificateAuthority.create()


def station(tmp_path: Path, **sections: dict[str, object]) -> Any:
    tmp_path.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{tmp_path / 'station.db'}")
    db.upgrade()
    scenario.install_registry(db, ["xa-a"])
    settings = make_settings(tmp_path, str(db.url), **sections)
    clock = ManualClock(wall_ns=int(scenario.NOW.timestamp()) * 10**9)
    return SimpleNamespace(settings=settings, db=db, bus=EventBus(), time=StationTime(clock),
                           broker=None, extras={},
                           access=SimpleNamespace(broker_ca_pem=CA.cert_pem.decode()))


def test_alert_component_runs_and_stops(tmp_path: Path) -> None:
    built = station(tmp_path, alerts={"interval_s": 5, "offline_after_min": 45,
                                      "village_days": 3})
    component = AlertComponent(built)
    assert built.extras["alerts"] is component
    assert component.evaluator.thresholds.offline_after.total_seconds() == 45 * 60
    assert thresholds_from(built.settings).village_days == 3
    component.start()
    started = time.monotonic()
    component.stop()  # does not wait for the next round
    assert time.monotonic() - started < 5
    result = component.evaluator.evaluate()  # one pass works against this station
    # No records here: the IP-only villages are not reached; thon-a2 is, by its attested
    # wired cluster.
    assert {e.subject for e in result.raised} == {"thon-a1", "thon-a3"}
    built.db.dispose()


def test_forwarder_only_when_enabled(tmp_path: Path) -> None:
    idle = station(tmp_path / "idle")
    component = ForwardComponent(idle)
    assert component.link is None and "forward" not in idle.extras
    component.start()
    component.stop()
    idle.db.dispose()
    enabled = station(tmp_path / "on", forward={"enabled": True, "batch_records": 500,
                                                "interval_s": 1})
    component = ForwardComponent(enabled)
    assert component.link is not None and enabled.extras["forward"] is component.link
    assert component.link.forwarder.options.batch_records == 500
    assert component.link.commune == "xa-a"
    enabled.db.dispose()
