"""Real agents for the emergency-latency benchmark: accepted -> first sample at the card.

Station side (``Fleet``): a real Mosquitto with loaxa's own configuration (TLS, a
password-file account per agent and the station's, the generated ACL), ``N`` agents
provisioned as enrolment would (``tests/support/agent_process.provision``), two
emergency items already in every agent's cache (one of them named in the agent's plan as
a pin, the commune's standard warning; the other cached only), and the signed, retained
documents the station publishes: each agent's plan, then the commune-wide emergency and
its stop.

Agent side (``agent_worker``): ``K`` real ``AgentService``s in one process (``K = 1`` is
the deployment: one agent, one engine, one process), each on the production defaults
with the clocked fake card (``audio.sink = fake``, recording kept) and the fake relay.
Everything between the broker and the card is the agent's own code: the MQTT link's
network thread, the main loop, ``ControlInbox`` (envelope signature, versions), the
service's document handling, the ``Broadcaster`` and the playout engine. The only
addition is a timer around ``ControlInbox.receive``: the instant it returns an accepted
emergency document is "accepted". The first sample is read afterwards from the card's
own presentation stamps (CLOCK_BOOTTIME, the machine's clock, like the timer).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from array import array
from pathlib import Path
from typing import Any

from agent.broadcaster import Broadcaster, Recording
from agent.config import load
from agent.service import AgentService
from controller.broker.accounts import Role
from protocols.envelope import Domain, Signer
from protocols.inbox import DocumentAccepted
from protocols.keys import SigningIdentity
from protocols.messages import Emergency, Plan
from protocols.topics import DocKind, document_topic
from tests.playout.media import Item
from tests.support.agent_process import ProvisionedAgent, provision
from tests.support.broker import RecordingClient, RunningBroker
from tests.support.recordings import recordings_in

COMMUNE = "xa-khancap"
STATION = "ctl-bench-em"
DAY_NS = 86_400 * 10**9
# Production defaults, except what a machine with no sound card or relay needs, and an
# amplifier that stays on between the trials (the target says "amplifier already on").
SETTINGS = {"clock__trust": "always", "audio__sink": "fake", "audio__record_dir": "recordings",
            "amplifier__driver": "fake", "amplifier__lead_ms": "1000",
            "amplifier__tail_ms": "600000"}


def boottime_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


class Fleet:
    """The station's side: broker accounts, provisioned agents, signed documents."""

    def __init__(self, broker: RunningBroker, root: Path, agents: int, pinned: Item,
                 cached: Item) -> None:
        self.identity = SigningIdentity.generate()
        self.signer = Signer(self.identity, 1)
        broker.add(STATION, Role.CONTROLLER, COMMUNE)
        self.agents: list[ProvisionedAgent] = []
        for i in range(agents):
            agent = provision(broker, root / "agents", COMMUNE, f"ag-{i:03d}", self.identity)
            items = agent.data_dir / "cache" / "items"
            items.mkdir(parents=True, exist_ok=True)
            for item in (pinned, cached):  # pre-distributed earlier, as usual
                shutil.copy(item.path, items / item.sha.hex())
            self.agents.append(agent)
        self.pinned, self.cached = pinned, cached
        self._broker = broker
        self._client: RecordingClient | None = None
        self._version = 0

    def __enter__(self) -> Fleet:
        client = RecordingClient(self._broker, STATION,
                                 self._broker.credentials[STATION].password)
        if not client.connected.wait(30):
            raise SystemExit("the station's client could not connect to the broker")
        self._client = client
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._client is not None:
            self._client.close()

    def publish_plans(self) -> None:
        """Each agent's plan: nothing scheduled, the pinned item as its pin."""
        now = time.time_ns()
        for agent in self.agents:
            topic = document_topic(COMMUNE, DocKind.PLAN, agent.agent_id)
            plan = Plan(version=1, issued_ns=now, agent_id=agent.agent_id,
                        tz="Asia/Ho_Chi_Minh", horizon_end_ns=now + 7 * DAY_NS, slots=[],
                        pins=[self.pinned.sha])
            self._publish(topic, self.signer.seal(Domain.DOCUMENT, topic, plan))

    def emergency(self, emergency_id: str, item: Item | None) -> int:
        """Start (``item``) or stop (None) the commune-wide emergency; returns when the
        publish began (CLOCK_BOOTTIME)."""
        self._version += 1
        now = time.time_ns()
        document = Emergency(version=self._version, issued_ns=now, emergency_id=emergency_id,
                             active=item is not None,
                             content=item.sha if item is not None else None, villages=[],
                             started_ns=now, repeat_every_s=0, volume=100,
                             attention_tone=False)
        topic = document_topic(COMMUNE, DocKind.EMERGENCY)
        payload = self.signer.seal(Domain.DOCUMENT, topic, document)
        at = boottime_ns()
        self._publish(topic, payload)
        return at

    def _publish(self, topic: str, payload: bytes) -> None:
        assert self._client is not None
        self._client.publish(topic, payload, qos=1, retain=True, timeout=30)


# --------------------------------------------------------------------------- agent side


def time_acceptance(service: AgentService, received: dict[str, int],
                    accepted: dict[str, int]) -> None:
    """Note when ``service``'s inbox received and accepted each emergency start."""
    inner = service.inbox.receive

    def receive(topic: str, payload: bytes) -> Any:
        began = boottime_ns()
        result = inner(topic, payload)
        if isinstance(result, DocumentAccepted) and isinstance(result.document, Emergency) \
                and result.document.active:
            accepted[result.document.emergency_id] = boottime_ns()
            received[result.document.emergency_id] = began
        return result

    service.inbox.receive = receive  # type: ignore[method-assign]


def first_sound_after(runs: list[Recording], after_ns: int) -> int | None:
    """When the card presented its first non-zero sample at or after ``after_ns``."""
    best: int | None = None
    for run in runs:
        step = run.ns_per_frame
        for start, audio in run.segments:
            frames = len(audio) // 2
            if start + frames * step <= after_ns:
                continue
            samples = array("h", audio)
            first = max(0, -(-(after_ns - start) // step))
            for k in range(int(first), frames):
                if samples[k]:
                    at = start + round(k * step)
                    best = at if best is None else min(best, at)
                    break
            if best is not None and start > best:
                break
    return best


def agent_worker(args: argparse.Namespace) -> None:
    """Run the agents named by ``--configs`` until stdin closes; print their timings."""
    pinned = bytes.fromhex(args.pinned)
    services: list[tuple[AgentService, dict[str, int], dict[str, int]]] = []
    for config in args.configs.split(","):
        environ = {f"LOAXA_AGENT__{k.upper()}": v for k, v in SETTINGS.items()}
        service = AgentService(load(Path(config), environ=environ))
        received: dict[str, int] = {}
        accepted: dict[str, int] = {}
        time_acceptance(service, received, accepted)
        services.append((service, received, accepted))
    threads = [threading.Thread(target=s.run, name=f"agent-{i}", daemon=True)
               for i, (s, _, _) in enumerate(services)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    for service, _, _ in services:  # connected, plan applied, its pin kept ready
        playout = service.playout
        assert isinstance(playout, Broadcaster)
        while not (service.link.connected and pinned in playout.engine.kept_ready()):
            if time.monotonic() > deadline:
                raise SystemExit(f"agent {service.settings.agent.id} not ready")
            time.sleep(0.05)
    print("ready", flush=True)
    sys.stdin.read()  # until the bench is done
    for service, _, _ in services:
        service.request_stop()
    for thread in threads:
        thread.join(30)
    results = []
    for service, received, accepted in services:
        runs = recordings_in(service.settings.path(Path("recordings")))
        results.append({
            "agent": service.settings.agent.id, "received": received, "accepted": accepted,
            "first": {eid: first_sound_after(runs, at) for eid, at in accepted.items()}})
    print(json.dumps(results), flush=True)
