"""The collector's systemd unit: `systemd-analyze verify` with a clean stderr, hardened,
restarting forever."""

from __future__ import annotations

from pathlib import Path

from tests.deploy.units import ROOT, parse_unit, render, values, verify

UNIT = ROOT / "deploy" / "collector" / "loaxa-collector.service"


def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    target = tmp_path / UNIT.name
    target.write_text(render(UNIT.read_text()))
    result = verify(target)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_the_unit_runs_the_collector_hardened() -> None:
    parsed = parse_unit(UNIT.read_text())
    assert values(parsed, "Service", "ExecStart") == [
        "/opt/loaxa/venv/bin/loaxa collector run -c /etc/loaxa/collector.toml"]
    assert values(parsed, "Service", "Restart") == ["always"]
    assert values(parsed, "Unit", "StartLimitIntervalSec") == ["0"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert values(parsed, "Service", key) == ["yes"], key
    assert values(parsed, "Service", "ProtectSystem") == ["strict"]
    assert values(parsed, "Service", "User") == ["loaxa"]
