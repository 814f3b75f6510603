"""The systemd units: `systemd-analyze verify` with clean stderr, and what they must say."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .units import UNITS, parse_unit, render, systemd_version, values, verify

INSTANCES = {"loaxa-agent.service": "loaxa-agent.service",
             "loaxa-controller.service": "loaxa-controller.service",
             "loaxa-controller@.service": "loaxa-controller@xa-tan-lap.service"}


def unit(name: str) -> dict[str, list[tuple[str, str]]]:
    return parse_unit((UNITS / name).read_text())


@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_systemd_analyze_verify_is_clean(tmp_path: Path, name: str) -> None:
    target = tmp_path / INSTANCES[name]
    target.write_text(render((UNITS / name).read_text()))
    result = verify(target)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_the_backoff_dropin_verifies_where_it_applies(tmp_path: Path, name: str) -> None:
    """On systemd >= 254 every unit with the back-off drop-in verifies clean; on an older
    one verify names exactly the keys it does not know, which is why install.sh and the
    operations guide install the drop-in only from 254 on."""
    target = tmp_path / INSTANCES[name]
    target.write_text(render((UNITS / name).read_text()))
    dropins = tmp_path / f"{INSTANCES[name]}.d"
    dropins.mkdir()
    shutil.copy(UNITS / "loaxa-restart-backoff.conf", dropins / "restart-backoff.conf")
    result = verify(target)
    assert result.returncode == 0, result.stderr
    if systemd_version() >= 254:
        assert result.stderr.strip() == "", result.stderr
    else:
        unknown = [line.split("Unknown key ")[1].split()[0] for line in
                   result.stderr.strip().splitlines()]
        assert unknown == ["'RestartSteps'", "'RestartMaxDelaySec'"], result.stderr
    dropin = parse_unit((UNITS / "loaxa-restart-backoff.conf").read_text())
    assert values(dropin, "Service", "RestartSteps") == ["5"]
    assert values(dropin, "Service", "RestartMaxDelaySec") == ["2min"]


def test_verify_would_catch_a_misspelt_key(tmp_path: Path) -> None:
    """Positive control: verify only warns, so the clean-stderr assertion is what bites."""
    target = tmp_path / "loaxa-agent.service"
    target.write_text(render((UNITS / "loaxa-agent.service").read_text())
                      .replace("WatchdogSec=", "WatchDogSec="))
    result = verify(target)
    assert "Unknown key" in result.stderr and "WatchDogSec" in result.stderr


@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_every_service_is_a_watched_notify_service_that_never_gives_up(name: str) -> None:
    parsed = unit(name)
    assert values(parsed, "Service", "Type") == ["notify"]
    assert values(parsed, "Service", "NotifyAccess") == ["main"]
    assert values(parsed, "Service", "WatchdogSec") == ["60"]
    assert values(parsed, "Service", "Restart") == ["always"]
    assert values(parsed, "Service", "RestartSec") == ["5"]
    assert values(parsed, "Unit", "StartLimitIntervalSec") == ["0"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert values(parsed, "Service", key) == ["yes"], key
    assert values(parsed, "Service", "ProtectSystem") == ["strict"]
    assert values(parsed, "Service", "StateDirectory")
    if systemd_version() < 254:  # RestartSteps=/RestartMaxDelaySec= came in systemd 254
        assert not values(parsed, "Service", "RestartSteps")
        assert not values(parsed, "Service", "RestartMaxDelaySec")


def test_the_agent_can_reach_sound_and_gpio() -> None:
    parsed = unit("loaxa-agent.service")
    allowed = values(parsed, "Service", "DeviceAllow")
    assert "char-alsa rw" in allowed
    assert "char-gpiochip rw" in allowed
    assert values(parsed, "Service", "DevicePolicy") == ["closed"]
    groups = " ".join(values(parsed, "Service", "SupplementaryGroups")).split()
    assert {"audio", "gpio"} <= set(groups)
    # PrivateDevices=yes would hide /dev/snd and the GPIO chips.
    assert values(parsed, "Service", "PrivateDevices") in ([], ["no"])
    # ProtectClock's filter refuses even a read-only adjtimex(): time would never be trusted.
    assert not values(parsed, "Service", "ProtectClock")
    assert values(parsed, "Service", "ExecStart") == [
        "/opt/loaxa/venv/bin/loaxa agent run -c /var/lib/loaxa-agent/agent.toml"]
    assert values(parsed, "Service", "User") == ["loaxa-agent"]
    assert values(parsed, "Service", "StateDirectory") == ["loaxa-agent"]


def test_the_template_runs_one_controller_per_commune() -> None:
    parsed = unit("loaxa-controller@.service")
    (exec_start,) = values(parsed, "Service", "ExecStart")
    assert "controller run -c /etc/loaxa/controller-%i.toml" in exec_start
    assert values(parsed, "Service", "StateDirectory") == ["loaxa-controller/%i"]
    assert values(parsed, "Service", "RuntimeDirectory") == ["loaxa-controller/%i"]
    single = unit("loaxa-controller.service")
    assert values(single, "Service", "PrivateDevices") == ["yes"]  # no devices needed
