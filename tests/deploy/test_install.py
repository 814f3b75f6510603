"""deploy/agent/install.sh, staged into a temporary root (no packages, users or systemctl)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .units import ROOT, parse_unit, render, values, verify

SCRIPT = ROOT / "deploy" / "agent" / "install.sh"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=60)


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
    assert "server 10.1.2.3 iburst" in chrony and "@CONTROLLER@" not in chrony
    assert "\nrtcsync\n" in chrony + "\n" and "makestep" in chrony
    journald = parse_unit((tmp_path / "etc/systemd/journald.conf.d/loaxa.conf").read_text())
    assert values(journald, "Journal", "Storage") == ["volatile"]
    rules = (tmp_path / "etc/polkit-1/rules.d/50-loaxa-agent.rules").read_text()
    assert '"org.freedesktop.login1.reboot"' in rules and '"loaxa-agent"' in rules
    assert (tmp_path / "var/lib/loaxa-agent").is_dir()


@pytest.mark.parametrize("args", [[], ["--controller", "10.0.0.1; rm -rf /"],
                                  ["--controller", "h", "--prefix", "relative"],
                                  ["--controller", "h", "--bogus"]])
def test_bad_arguments_are_refused(tmp_path: Path, args: list[str]) -> None:
    result = run(*args, "--destdir", str(tmp_path))
    assert result.returncode == 2
    assert not (tmp_path / "etc").exists()
