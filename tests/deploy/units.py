"""Reading and rendering the systemd units in deploy/systemd for tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
VENV = Path(sys.executable).parent.parent


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections to (key, value) pairs in order; keys may repeat (DeviceAllow=...)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        key, _, value = line.partition("=")
        sections.setdefault(current, []).append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def render(text: str) -> str:
    """Point ExecStart at this checkout's venv so verify finds an executable."""
    return text.replace("/opt/loaxa/venv", str(VENV))


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian package systemd)"
    return subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True,
                          timeout=60, cwd=path.parent)


def systemd_version() -> int:
    out = subprocess.run(["systemd-analyze", "--version"], capture_output=True, text=True)
    return int(out.stdout.split()[1])
