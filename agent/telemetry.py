"""Readings of the box itself, from /proc, /sys and /etc (roots injectable for tests).

Each reading is best effort: a box without a thermal zone or without the Raspberry Pi
firmware interface reports ``None`` for that field rather than failing, because the
heartbeat must go out whatever the hardware is.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("loaxa.agent.telemetry")

# Raspberry Pi firmware flags (vcgencmd get_throttled): bit 0 under-voltage now,
# bit 1 frequency capped, bit 2 throttled, bit 3 soft temperature limit; bits 16-19 the
# same conditions "has occurred since boot".
UNDER_VOLTAGE_NOW = 1 << 0
UNDER_VOLTAGE_OCCURRED = 1 << 16


@dataclass(frozen=True)
class DiskSpace:
    total_mb: int
    free_mb: int


class SystemReadings:
    """The host's vital signs. Paths default to the real ones."""

    def __init__(self, *, proc: Path = Path("/proc"), sys: Path = Path("/sys"),
                 etc: Path = Path("/etc"), disk: Path = Path("/")) -> None:
        self.proc = proc
        self.sys = sys
        self.etc = etc
        self.disk = disk
        self._under_voltage_seen = False

    def uptime_s(self) -> int:
        """Seconds since the kernel booted (the box's uptime, not the process's)."""
        text = _read(self.proc / "uptime")
        try:
            return int(float(text.split()[0])) if text else 0
        except (ValueError, IndexError):
            return 0

    def disk_space(self) -> DiskSpace:
        try:
            st = os.statvfs(self.disk)
        except OSError:
            return DiskSpace(0, 0)
        return DiskSpace(st.f_blocks * st.f_frsize // 2**20, st.f_bavail * st.f_frsize // 2**20)

    def cpu_temp_dc(self) -> int | None:
        """CPU temperature in tenths of a degree Celsius, from the thermal zones."""
        zones = sorted((self.sys / "class" / "thermal").glob("thermal_zone*"))
        preferred = [z for z in zones if _read(z / "type") in ("cpu-thermal", "x86_pkg_temp",
                                                                 "soc_thermal", "cpu_thermal")]
        for zone in preferred + zones:
            text = _read(zone / "temp")
            try:
                milli = int(text)
            except (TypeError, ValueError):
                continue
            return max(-1000, min(2000, milli // 100))
        return None

    def throttled(self) -> int | None:
        """Raspberry Pi under-voltage/throttling flags, where the firmware exposes them."""
        text = _read(self.sys / "devices" / "platform" / "soc" / "soc:firmware" /
                     "get_throttled")
        if text:
            try:
                return int(text, 16) & 0xFFFFFFFF
            except ValueError:
                pass
        for hwmon in sorted((self.sys / "class" / "hwmon").glob("hwmon*")):
            if _read(hwmon / "name") != "rpi_volt":
                continue
            alarm = _read(hwmon / "in0_lcrit_alarm") == "1"
            self._under_voltage_seen |= alarm
            return (UNDER_VOLTAGE_NOW if alarm else 0) | \
                (UNDER_VOLTAGE_OCCURRED if self._under_voltage_seen else 0)
        return None

    def rss_kb(self, pid: int | str = "self") -> int:
        for line in _read(self.proc / str(pid) / "status").splitlines():
            if line.startswith("VmRSS:"):
                try:
                    return int(line.split()[1])
                except (IndexError, ValueError):
                    return 0
        return 0

    def hostname(self) -> str:
        return (_read(self.proc / "sys" / "kernel" / "hostname") or socket.gethostname())[:256]

    def os_name(self) -> str:
        for line in _read(self.etc / "os-release").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.partition("=")[2].strip().strip('"')[:256]
        return "unknown"


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""
