"""``loaxa collector``: generated regional broker files that Mosquitto accepts, the
commune's bridge section from its settings, status, and a clear refusal to start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from controller.broker.files import BrokerLayout
from controller.broker.process import MosquittoProcess
from controller.cli.app import run
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def loaxa(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.e2e
def test_region_broker_files_start_mosquitto(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    directory = tmp_path / "region"
    code, out, err = loaxa(capsys, "collector", "region-broker", "--dir", str(directory),
                           "--commune", "xa-a", "--commune", "xa-b", "--bind", "127.0.0.1",
                           "--port", str(port))
    assert code == 0, err
    assert str(directory) in out
    secrets = directory / "secrets"
    assert sorted(p.name for p in secrets.glob("*.password")) == [
        "bridge-xa-a.password", "bridge-xa-b.password", "collector.password"]
    assert oct((secrets / "collector.password").stat().st_mode & 0o777) == "0o600"
    first = (secrets / "bridge-xa-a.password").read_text()
    process = MosquittoProcess(BrokerLayout(directory), port)
    process.start()  # waits for a TLS handshake: the generated config is valid
    process.stop()
    code, _, err = loaxa(capsys, "collector", "region-broker", "--dir", str(directory),
                         "--commune", "xa-a", "--port", str(port))
    assert code == 0, err
    assert (secrets / "bridge-xa-a.password").read_text() == first  # kept across runs
    code, _, err = loaxa(capsys, "collector", "region-broker", "--dir", str(directory),
                         "--commune", "Xã A")
    assert code == 2 and "commune id" in err


def test_bridge_section_from_the_station_settings(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    password = tmp_path / "bridge.password"
    password.write_text("p4ss\n")
    settings = tmp_path / "station.toml"
    settings.write_text(
        f'[station]\ncommune = "xa-a"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[forward]\nenabled = true\nregion_host = "tinh.example"\n'
        f'region_ca_file = "{tmp_path / "region-ca.crt"}"\n'
        f'bridge_password_file = "{password}"\n')
    code, out, err = loaxa(capsys, "collector", "bridge", "-c", str(settings))
    assert code == 0, err
    assert "address tinh.example:8883" in out and "remote_password p4ss" in out
    target = tmp_path / "bridge.conf"
    code, _, err = loaxa(capsys, "collector", "bridge", "-c", str(settings), "-o", str(target))
    assert code == 0 and oct(target.stat().st_mode & 0o777) == "0o600"
    bare = tmp_path / "bare.toml"
    bare.write_text(f'[station]\ndata_dir = "{tmp_path / "data"}"\n')
    code, _, err = loaxa(capsys, "collector", "bridge", "-c", str(bare))
    assert code == 2 and "region_host" in err


def test_status_and_a_collector_that_cannot_start(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    settings = tmp_path / "collector.toml"
    settings.write_text(f'[station]\ndata_dir = "{tmp_path / "data"}"\n'
                        f'[database]\nurl = "sqlite:///{tmp_path / "c.db"}"\n')
    code, _, err = loaxa(capsys, "collector", "run", "-c", str(settings))
    assert code == 6 and "password_file" in err and "Traceback" not in err
    code, out, err = loaxa(capsys, "collector", "status", "-c", str(settings), "--json")
    assert code == 0, err
    assert json.loads(out) == []
    done = subprocess.run([sys.executable, "-m", "controller.cli.entry", "collector", "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "LOAXA_LANG": "vi"})
    assert done.returncode == 0 and "PostgreSQL" in done.stdout
