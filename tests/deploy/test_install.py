"""deploy/agent/install.sh, staged into a temporary root (no packages, users or systemctl)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .units import ROOT, parse_unit, render, values, verify

SCRIPT = ROOT / "deploy" / "agent" / "install.sh"
BACKOFF = "etc/systemd/system/loaxa-agent.service.d/restart-backoff.conf"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=60, env=env)


def fake_systemctl(tmp_path: Path, version_line: str) -> dict[str, str]:
    """An environment whose `systemctl --version` prints ``version_line``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    fake.write_text(f"#!/bin/sh\necho '{version_line}'\necho '+PAM +AUDIT'\n")
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_the_script_parses() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    shellcheck = shutil.which("shellcheck")
    if shellcheck:
        result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout


def test_staged_install(tmp_path: Path) -> None:
    result = run("--controller", "10.1.2.3", "--destdir", str(tmp_path), "--prefix", "/srv/lx")
    assert result.returncode == 0, result.stderr
    assert "loaxa agent enroll" in result.stdout and "enable --now loaxa-agent" in result.stdout
    unit = tmp_path / "etc/systemd/system/loaxa-agent.service"
    parsed = parse_unit(unit.read_text())
    assert values(parsed, "Service", "ExecStart")[0].startswith("/srv/lx/venv/bin/loaxa agent")
    rendered = tmp_path / "verify" / "loaxa-agent.service"
    rendered.parent.mkdir()
    rendered.write_text(render(unit.read_text().replace("/srv/lx/venv", "/opt/loaxa/venv")))
    checked = verify(rendered)
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr

    chrony = (tmp_path / "etc/chrony/conf.d/loaxa.conf").read_text()
    assert "@CONTROLLER@" not in chrony
    (server,) = [line.split() for line in chrony.splitlines() if line.startswith("server ")]
    # The controller is the fallback: counted as stratum 8 or worse against the pool.
    assert server[:3] == ["server", "10.1.2.3", "iburst"] and "minstratum" in server
    assert int(server[server.index("minstratum") + 1]) >= 5
    assert "\nrtcsync\n" in chrony + "\n" and "makestep" in chrony
    journald = parse_unit((tmp_path / "etc/systemd/journald.conf.d/loaxa.conf").read_text())
    assert values(journald, "Journal", "Storage") == ["volatile"]
    rules = (tmp_path / "etc/polkit-1/rules.d/50-loaxa-agent.rules").read_text()
    assert '"org.freedesktop.login1.reboot"' in rules and '"loaxa-agent"' in rules
    assert (tmp_path / "var/lib/loaxa-agent").is_dir()


@pytest.mark.parametrize(("version", "backoff"), [("252", False), ("253", False),
                                                  ("254", True), ("257", True)])
def test_restart_backoff_only_where_systemd_knows_it(tmp_path: Path, version: str,
                                                      backoff: bool) -> None:
    result = run("--controller", "h", "--destdir", str(tmp_path), "--systemd-version", version)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / BACKOFF).exists() is backoff
    assert ("fixed 5 s pause" in result.stdout) is not backoff
    if backoff:
        dropin = parse_unit((tmp_path / BACKOFF).read_text())
        assert values(dropin, "Service", "RestartSteps") == ["5"]
        assert values(dropin, "Service", "RestartMaxDelaySec") == ["2min"]


@pytest.mark.parametrize(("line", "backoff"), [("systemd 252 (252.38-1~deb12u1)", False),
                                               ("systemd 256 (256.7-1)", True)])
def test_the_systemd_version_comes_from_systemctl(tmp_path: Path, line: str,
                                                  backoff: bool) -> None:
    result = run("--controller", "h", "--destdir", str(tmp_path / "root"),
                 env=fake_systemctl(tmp_path, line))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "root" / BACKOFF).exists() is backoff


def test_a_downgrade_removes_the_backoff(tmp_path: Path) -> None:
    assert run("--controller", "h", "--destdir", str(tmp_path),
               "--systemd-version", "255").returncode == 0
    assert (tmp_path / BACKOFF).exists()
    assert run("--controller", "h", "--destdir", str(tmp_path),
               "--systemd-version", "252").returncode == 0
    assert not (tmp_path / BACKOFF).exists()


@pytest.mark.parametrize("args", [[], ["--controller", "10.0.0.1; rm -rf /"],
                                  ["--controller", "h", "--prefix", "relative"],
                                  ["--controller", "h", "--systemd-version", "252; true"],
                                  ["--controller", "h", "--bogus"]])
def test_bad_arguments_are_refused(tmp_path: Path, args: list[str]) -> None:
    result = run(*args, "--destdir", str(tmp_path))
    assert result.returncode == 2
    assert not (tmp_path / "etc").exists()
