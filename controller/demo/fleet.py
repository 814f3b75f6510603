"""The demo's village agents: real ``python -m agent`` processes, enrolled with the
one-time-code flow, each dialling the broker and the station's content service through
its own userspace relays so that the demo can cut one village off (both links, as a
dead 4G cell would) and bring it back.

The agents run with accelerated intervals (heartbeat 1 s, journal extension 0.5 s, Will
delay 2 s) so a whole outage and its backfill fit in a minute, and play into a clocked
stand-in for a sound card; everything else is the production code path.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .relay import Relay

# Production minimums are far longer; `testing.short_intervals` lifts them explicitly.
ACCELERATED = {
    "testing__short_intervals": "true",
    "heartbeat__interval_s": "1",
    "heartbeat__telemetry_min_s": "1",
    "journal__extend_s": "0.5",
    "journal__linger_s": "0",
    "journal__ack_timeout_s": "2",
    "journal__ack_timeout_max_s": "4",
    "broker__keepalive_s": "2",
    "broker__will_delay_s": "2",
    "broker__connect_timeout_s": "2",
    "broker__reconnect_min_s": "0.2",
    "broker__reconnect_max_s": "1",
    "clock__trust": "always",
    "watchdog__stall_s": "10",
    # No sound card here: the agents play into the clocked stand-in for one (it pulls
    # samples at 48 kHz like a real card), and switch a stand-in amplifier relay.
    "audio__sink": "fake",
    "amplifier__driver": "fake",
}


class EnrolmentFailed(RuntimeError):
    """``loaxa agent enroll`` refused or failed; the message is the agent's own."""


@dataclass
class DemoAgent:
    cluster: str
    data_dir: Path
    agent_id: str = ""
    relay: Relay | None = None
    plane_relays: list[Relay] = field(default_factory=list)  # content, clock
    process: subprocess.Popen[bytes] | None = None
    settings: dict[str, str] = field(default_factory=lambda: dict(ACCELERATED))
    stopping: bool = False

    @property
    def config(self) -> Path:
        return self.data_dir / "agent.toml"

    def enrol(self, command: str) -> None:
        """Run the command the station printed for this cluster, as a technician would."""
        words = shlex.split(command)
        done = subprocess.run([sys.executable, "-m", "agent", *words[2:], "--data-dir",
                               str(self.data_dir), "--json"], capture_output=True,
                              text=True, timeout=60)
        if done.returncode != 0:
            raise EnrolmentFailed(done.stderr.strip() or done.stdout.strip())
        self.agent_id = json.loads(done.stdout)["agent_id"]

    def start(self, broker_port: int) -> None:
        self.relay = Relay(broker_port).start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOAXA_AGENT__")
               and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        env.update({f"LOAXA_AGENT__{k.upper()}": v for k, v in self.settings.items()})
        env["LOAXA_AGENT__BROKER__HOST"] = "127.0.0.1"
        env["LOAXA_AGENT__BROKER__PORT"] = str(self.relay.port)
        for key, (host, port) in self.data_plane_endpoints().items():
            relay = Relay(port, target_host=host).start()
            self.plane_relays.append(relay)
            env[f"LOAXA_AGENT__DATA_PLANE__{key.upper()}"] = f"tcp://127.0.0.1:{relay.port}"
        with (self.data_dir / "agent.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agent", "run", "-c", str(self.config)], env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def data_plane_endpoints(self) -> dict[str, tuple[str, int]]:
        """The ZeroMQ endpoints enrolment gave the agent (``[data_plane] endpoint`` for
        content, and any other ``*endpoint`` key, such as the clock exchange's)."""
        with self.config.open("rb") as handle:
            plane = tomllib.load(handle).get("data_plane", {})
        found = {}
        for key, value in plane.items():
            if key.endswith("endpoint") and isinstance(value, str):
                parts = urlsplit(value)
                if parts.scheme == "tcp" and parts.hostname and parts.port:
                    found[key] = (parts.hostname, parts.port)
        return found

    def relays(self) -> list[Relay]:
        return ([self.relay] if self.relay is not None else []) + self.plane_relays

    def cut_off(self) -> None:
        """A dead 4G cell: nothing gets through, nothing is closed."""
        for relay in self.relays():
            relay.partition("blackhole")

    def reconnect(self) -> None:
        for relay in self.relays():
            relay.heal()

    def terminate(self) -> None:
        """Ask the agent to stop (it closes its journal interval); ``stop`` waits."""
        if self.process is not None and self.process.poll() is None and not self.stopping:
            self.process.send_signal(signal.SIGTERM)
            self.stopping = True

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for relay in self.relays():
            relay.stop()
