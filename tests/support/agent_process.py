"""Village agents for tests: provisioned as enrolment would, run as real processes.

``provision`` creates the broker account and writes the data directory through
``agent.enroll.install_grant`` (the same code ``loaxa agent enroll`` runs after a claim),
trusting the test controller's signing key. ``AgentProcess`` runs
``python -m agent run -c FILE`` with test settings passed as ``LOAXA_AGENT__*``
environment overrides, and can stop it politely (SIGTERM) or not at all (SIGKILL).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent.config import AgentSettings, load
from agent.enroll import install_grant
from controller.broker.accounts import Role
from controller.demo.fleet import ACCELERATED
from protocols.enrolment import BrokerAccess, ClaimGranted, DataPlaneAccess
from protocols.keys import SigningIdentity
from protocols.messages import DocVersion, TrustBundle, TrustedKey

from . import child
from .broker import RunningBroker

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_795_000_000_000_000_000

# Fast clocks for tests: the demo's accelerated agents ("testing.short_intervals" is what
# lets them go below production minimums).
FAST = dict(ACCELERATED)


@dataclass
class ProvisionedAgent:
    agent_id: str
    commune: str
    data_dir: Path
    config: Path

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.db"


def trust_bundle(commune: str, identity: SigningIdentity) -> TrustBundle:
    return TrustBundle(version=1, issued_ns=T0, commune=commune,
                       keys=[TrustedKey(identity.key_id, identity.public_key)])


def provision(broker: RunningBroker, root: Path, commune: str, agent_id: str,
              identity: SigningIdentity, *, port: int | None = None) -> ProvisionedAgent:
    if agent_id not in broker.credentials:
        broker.add(agent_id, Role.AGENT, commune)
    creds = broker.credentials[agent_id]
    granted = ClaimGranted(
        agent_id=agent_id, commune=commune, village=None, cluster=None,
        broker=BrokerAccess(host="127.0.0.1", port=port or broker.port, username=agent_id,
                            password=creds.password, ca_pem=broker.ca_pem.decode(),
                            server_name="loaxa-broker"),
        data_plane=DataPlaneAccess(endpoint="tcp://127.0.0.1:9", server_public_key=bytes(32)),
        trust=trust_bundle(commune, identity), trust_mark=DocVersion(1, 1))
    data_dir = root / agent_id
    config = install_grant(data_dir, granted)
    return ProvisionedAgent(agent_id, commune, data_dir, config)


@dataclass
class AgentProcess:
    agent: ProvisionedAgent
    settings: dict[str, str] = field(default_factory=lambda: dict(FAST))
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.agent.data_dir / "agent.log"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOAXA_AGENT__")
               and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        env.update({f"LOAXA_AGENT__{k.upper()}": v for k, v in self.settings.items()})
        env.update(self.extra_env)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> AgentProcess:
        assert not self.alive, "already running"
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agent", "--log-level", "info", "run", "-c",
                 str(self.agent.config)], cwd=ROOT, env=self.environment(),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        self.starts += 1
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill9(self) -> None:
        child.kill9(self.proc)

    def wait_started(self, timeout: float = 60.0) -> None:
        """Until this run has logged that it started (its signal handlers are in place)."""
        deadline = time.monotonic() + timeout
        while self.log_text().count(" started (journal boot ") < self.starts:
            if time.monotonic() > deadline or not self.alive:
                raise AssertionError(f"the agent did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM once the agent is up (an orderly stop), then its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.wait_started()
        return child.stop(self.proc, timeout)

    def rss_kb(self) -> int:
        text = Path(f"/proc/{self.pid}/status").read_text()
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_exit(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return self.proc.returncode
            time.sleep(0.05)
        return None


def settings_for(agent: ProvisionedAgent, **overrides: str) -> AgentSettings:
    """The settings an agent process would run with: its file plus the test overrides."""
    values = {**FAST, **overrides}
    return load(agent.config, environ={f"LOAXA_AGENT__{k.upper()}": v for k, v in values.items()})
