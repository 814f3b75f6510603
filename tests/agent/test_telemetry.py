"""Readings from /proc, /sys and /etc, against fake trees (a Pi's, and a bare VM's)."""

from __future__ import annotations

from pathlib import Path

from agent.telemetry import UNDER_VOLTAGE_NOW, UNDER_VOLTAGE_OCCURRED, SystemReadings


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def pi_tree(root: Path) -> SystemReadings:
    write(root / "proc/uptime", "86412.53 170000.10\n")
    write(root / "proc/self/status", "Name:\tpython\nVmPeak:\t 40000 kB\nVmRSS:\t   31234 kB\n")
    write(root / "proc/sys/kernel/hostname", "loa-thon-1\n")
    write(root / "sys/class/thermal/thermal_zone0/type", "cpu-thermal\n")
    write(root / "sys/class/thermal/thermal_zone0/temp", "52312\n")
    write(root / "sys/devices/platform/soc/soc:firmware/get_throttled", "50005\n")
    write(root / "etc/os-release", 'NAME="Debian"\nPRETTY_NAME="Raspbian GNU/Linux 12 '
          '(bookworm)"\n')
    return SystemReadings(proc=root / "proc", sys=root / "sys", etc=root / "etc", disk=root)


def test_a_raspberry_pi(tmp_path: Path) -> None:
    readings = pi_tree(tmp_path)
    assert readings.uptime_s() == 86412
    assert readings.rss_kb() == 31234
    assert readings.cpu_temp_dc() == 523
    assert readings.throttled() == 0x50005
    assert readings.hostname() == "loa-thon-1"
    assert readings.os_name() == "Raspbian GNU/Linux 12 (bookworm)"
    disk = readings.disk_space()
    assert disk.total_mb > 0 and 0 <= disk.free_mb <= disk.total_mb


def test_under_voltage_from_hwmon_is_remembered(tmp_path: Path) -> None:
    hwmon = tmp_path / "sys/class/hwmon/hwmon1"
    write(hwmon / "name", "rpi_volt\n")
    write(hwmon / "in0_lcrit_alarm", "1\n")
    readings = SystemReadings(proc=tmp_path / "proc", sys=tmp_path / "sys", etc=tmp_path)
    assert readings.throttled() == UNDER_VOLTAGE_NOW | UNDER_VOLTAGE_OCCURRED
    write(hwmon / "in0_lcrit_alarm", "0\n")
    assert readings.throttled() == UNDER_VOLTAGE_OCCURRED


def test_a_bare_machine_reports_none_rather_than_failing(tmp_path: Path) -> None:
    readings = SystemReadings(proc=tmp_path / "p", sys=tmp_path / "s", etc=tmp_path / "e",
                              disk=tmp_path / "missing")
    assert readings.uptime_s() == 0 and readings.rss_kb() == 0
    assert readings.cpu_temp_dc() is None and readings.throttled() is None
    assert readings.os_name() == "unknown" and readings.hostname()
    assert readings.disk_space().total_mb == 0
    write(tmp_path / "s/class/thermal/thermal_zone0/temp", "garbage")
    assert readings.cpu_temp_dc() is None


def test_the_real_machine(tmp_path: Path) -> None:
    readings = SystemReadings(disk=tmp_path)
    assert readings.uptime_s() > 0 and readings.rss_kb() > 1000
    assert readings.disk_space().free_mb > 0


def test_telemetry_changes_with_hysteresis() -> None:
    import msgspec

    from agent.service import telemetry_changed
    from protocols.messages import Telemetry
    from tests.protocols.samples import AGENT_MESSAGES

    base: Telemetry = AGENT_MESSAGES["telemetry"]

    def with_(**changes: object) -> Telemetry:
        return msgspec.structs.replace(base, **changes)

    assert telemetry_changed(None, base)
    assert not telemetry_changed(base, with_(uptime_s=base.uptime_s + 60, rss_kb=1))
    assert not telemetry_changed(base, with_(disk_free_mb=base.disk_free_mb - 1))  # at a
    assert not telemetry_changed(with_(disk_free_mb=1537), with_(disk_free_mb=1535))  # boundary
    assert telemetry_changed(base, with_(disk_free_mb=base.disk_free_mb - 600))
    assert telemetry_changed(with_(disk_free_mb=1100), with_(disk_free_mb=1000))  # now low
    warm = with_(cpu_temp_dc=500)
    assert not telemetry_changed(warm, with_(cpu_temp_dc=599))
    assert telemetry_changed(warm, with_(cpu_temp_dc=600))
    assert telemetry_changed(base, warm)  # a thermal reading appeared
    assert telemetry_changed(base, with_(volume=10))
    assert telemetry_changed(base, with_(rejected={"cmd/replayed": 2}))
