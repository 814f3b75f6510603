"""A station on loaxa's embedded Mosquitto forwards to the region out of the box: with
``[forward] enabled`` the broker's generated configuration carries the bridge (and real
Mosquitto starts with it); a forwarding station that does not name its region refuses
to start with a message saying what to set. ``test_bridge_e2e.py`` carries records
through such a broker to a real collector."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from controller.broker.sync import EmbeddedBroker
from controller.registry.errors import Invalid, Unavailable
from controller.settings import BrokerSettings, ForwardSettings, Settings, StationSettings
from controller.storage.database import Database
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def station_settings(tmp_path: Path, port: int = 8883, **forward: object) -> Settings:
    return Settings(station=StationSettings(commune="xa-a", data_dir=tmp_path / "data"),
                    broker=BrokerSettings(port=port, bind="127.0.0.1"),
                    forward=ForwardSettings(**forward))  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'loaxa.db'}")
    database.upgrade()
    return database


def region_files(tmp_path: Path) -> tuple[Path, Path]:
    ca = tmp_path / "region-ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")  # only its path goes into the config
    secret = tmp_path / "bridge.password"
    secret.write_text("p4ss-word\n")
    return ca, secret


@pytest.mark.e2e
def test_the_embedded_broker_carries_the_bridge(tmp_path: Path, db: Database) -> None:
    port = free_port()
    ca, secret = region_files(tmp_path)
    # A real CA, so that Mosquitto accepts the bridge's cafile at start.
    other = EmbeddedBroker(station_settings(tmp_path / "region", free_port()), db)
    other.prepare()
    ca.write_bytes(other.layout.ca_cert.read_bytes())
    region_port = free_port()  # nothing listens there: the bridge keeps retrying
    broker = EmbeddedBroker(station_settings(
        tmp_path, port, enabled=True, region_host="127.0.0.1", region_port=region_port,
        region_ca_file=ca, bridge_password_file=secret), db)
    broker.prepare()
    config = broker.layout.config.read_text().splitlines()
    prefix = "loaxa/v1/xa-a/"
    for line in ("connection loaxa-region-xa-a", f"address 127.0.0.1:{region_port}",
                 f"bridge_cafile {ca}", "remote_username bridge-xa-a",
                 "remote_password p4ss-word", f"topic collect/batch out 1 {prefix} {prefix}",
                 f"topic collect/ack in 1 {prefix} {prefix}", f"listener {port} 127.0.0.1"):
        assert line in config, line
    assert oct(broker.layout.config.stat().st_mode & 0o777) == "0o600"  # a password inside
    broker.start()  # waits for a TLS handshake: Mosquitto took the bridged configuration
    try:
        assert broker.process.running
    finally:
        broker.stop()
    # The control: without [forward] the same broker has no bridge.
    plain = EmbeddedBroker(station_settings(tmp_path, port), db)
    plain.prepare()
    assert "connection " not in plain.layout.config.read_text()
    db.dispose()


def test_a_forwarding_station_must_name_its_region(tmp_path: Path, db: Database) -> None:
    ca, secret = region_files(tmp_path)
    with pytest.raises(Invalid, match="region_host, region_ca_file and bridge_password_file"):
        EmbeddedBroker(station_settings(tmp_path, enabled=True), db)
    with pytest.raises(Invalid, match="does not exist"):
        EmbeddedBroker(station_settings(tmp_path, enabled=True, region_host="tinh.example",
                                        region_ca_file=tmp_path / "nowhere.crt",
                                        bridge_password_file=secret), db)
    with pytest.raises(Unavailable, match="Cannot read the bridge password"):
        EmbeddedBroker(station_settings(tmp_path, enabled=True, region_host="tinh.example",
                                        region_ca_file=ca,
                                        bridge_password_file=tmp_path / "missing"), db)
    secret.write_text("\n")
    with pytest.raises(Invalid, match="is empty"):
        EmbeddedBroker(station_settings(tmp_path, enabled=True, region_host="tinh.example",
                                        region_ca_file=ca, bridge_password_file=secret), db)
    db.dispose()


def test_the_controller_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    config = tmp_path / "loaxa.toml"
    config.write_text(f'[station]\ncommune = "xa-a"\ndata_dir = "{tmp_path / "data"}"\n'
                      f'[broker]\nport = {free_port()}\n[forward]\nenabled = true\n')
    english = "[forward] is enabled, but the broker has no region to bridge to"
    said = {}
    for language in ("en", "vi"):
        done = subprocess.run([sys.executable, "-m", "controller.cli.entry", "-c", str(config),
                               "controller", "run"], capture_output=True, text=True,
                              cwd=ROOT, timeout=120,
                              env={**os.environ, "LOAXA_LANG": language})
        assert done.returncode == 6, done.stderr  # unavailable: it did not start
        # The log (for the journal) has the details; the last line is the operator's.
        said[language] = done.stderr.strip().splitlines()[-1]
        assert "region_host" in said[language], done.stderr
    assert english in said["en"] and english not in said["vi"]  # translated for operators
